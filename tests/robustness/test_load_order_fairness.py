"""Correctness under load: per-client order, fairness between clients, heartbeats on time.

The server (``sio_server.py``, a separate process) acks every ``echo`` event with its
arguments. Clients are raw WebSocket Socket.IO peers in this process.

- Order: many clients at once, each sending numbered events, some with an ack id;
  each receives its acks exactly once, in the order it sent them.
- Fairness: one client pushes a flood of events in one write while another does
  round trips one at a time; the second finishes its round trips while the flood is
  still being worked through (the server serves connections turn by turn, not one
  connection's backlog first).
- Heartbeat: with a short ping interval, an idle client and the flooding client
  both stay connected through the flood (no "ping timeout").
"""
from __future__ import annotations

import json
from typing import List

import gevent

from robust_helpers import LockedSends, SioPeer, frame



def ack_number(packet: str) -> int:
    """``3<id>[n]`` -> n (the echo handler acks its arguments)."""
    assert packet.startswith("3"), packet
    return int(json.loads(packet[packet.index("["):])[0])


def test_every_client_gets_its_acks_in_order_under_load(sio_process):
    p = sio_process({})
    peers = [SioPeer(p.port) for _ in range(20)]
    per_peer = 300

    def run(peer: SioPeer) -> List[int]:
        got: List[int] = []

        def reader() -> None:
            while len(got) < per_peer:
                packet = peer.recv()
                assert packet is not None, "server closed the connection"
                got.append(ack_number(packet))

        r = gevent.spawn(reader)
        for n in range(per_peer):
            peer.send(f'2{n}["echo",{n}]')
            if n % 50 == 0:
                gevent.sleep(0)
        r.get(timeout=60)
        return got

    try:
        results = [g.get() for g in [gevent.spawn(run, peer) for peer in peers]]
    finally:
        for peer in peers:
            peer.close()
    for got in results:
        assert got == list(range(per_peer))


def test_a_flood_does_not_starve_other_clients_nor_their_heartbeats(sio_process):
    flood = 200_000
    step = 2000
    chunks = [b"".join(frame(1, f'42{n}["echo",{n}]'.encode()) for n in range(start, start + step))
              for start in range(0, flood, step)]
    p = sio_process({"ping_interval": 0.5, "ping_timeout": 0.5})
    flooder, prompt, idle = SioPeer(p.port), SioPeer(p.port), SioPeer(p.port)
    acked = [0]

    def read_flood() -> None:
        while acked[0] < flood:
            packet = flooder.recv()
            assert packet is not None, f"flooding client lost after {acked[0]} acks"
            assert ack_number(packet) == acked[0]
            acked[0] += 1
            if acked[0] % 200 == 0:
                gevent.sleep(0)  # this process's other peers answer their pings meanwhile

    def answer_pings(peer: SioPeer) -> None:
        while peer.recv() is not None:
            pass

    reader = gevent.spawn(read_flood)
    pinger = gevent.spawn(answer_pings, idle)
    flooder.sock = LockedSends(flooder.sock)

    def write_flood() -> None:
        for chunk in chunks:
            flooder.sock.sendall(chunk)
            gevent.sleep(0)  # the kernel may take it all at once: let this process's other peers run

    writer = gevent.spawn(write_flood)
    try:
        seen_during: List[int] = []
        for n in range(10):
            prompt.send(f'2{n}["echo",{n}]')
            packet = prompt.recv()
            assert packet is not None, ("prompt client disconnected", json.dumps(p.stats()))
            assert ack_number(packet) == n
            seen_during.append(acked[0])
        # Every round trip of the prompt client completed while the flood was still being
        # answered: it was served between the flooder's reads, not after all of them.
        assert seen_during[-1] < flood, seen_during
        pinger2 = gevent.spawn(answer_pings, prompt)
        writer.get(timeout=120)
        reader.get(timeout=120)
        # Every client stayed connected through the flood: nobody's heartbeat was missed.
        stats = p.stats()
        assert stats["sockets"] == 3 and not stats["reasons"], stats
        assert not pinger.dead and not pinger2.dead
    finally:
        for peer in (flooder, prompt, idle):
            peer.close()
        gevent.joinall([reader, pinger, writer], timeout=5)
