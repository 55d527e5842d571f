"""L3: one room of many clients, 100 numbered broadcasts, against a Socket.IO server process.

The server (``sio_server.py``) wraps its Socket.IO encoder and the engine's
``prepare`` with counters; ``GET /broadcast`` emits the numbered ``tick`` events
to the room at 100 per second. Every member is a raw WebSocket Socket.IO client.

Expected: the encoder and ``prepare`` run once per broadcast (not once per
member); every member receives every broadcast exactly once, in emission order;
clients outside the room receive none. The server's CPU time per broadcast is
printed (measured, not asserted).

CI runs 200 members; ``--run-slow`` runs 1,000.
"""
from __future__ import annotations

import json
import time
from typing import List

import gevent
import gevent.pool
import pytest

from robust_helpers import SioPeer, connect, read_response

BROADCASTS = 100
OUTSIDERS = 5


def http_get(port: int, target: str, timeout: float = 30) -> dict:
    with connect(port, timeout=timeout) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        status, _, body = read_response(s)
    assert status == 200, (status, body)
    return json.loads(body)  # type: ignore[no-any-return]


def room_broadcasts(sio_process, members: int) -> None:
    p = sio_process({})
    pool = gevent.pool.Pool(100)
    peers: List[SioPeer] = list(pool.imap_unordered(lambda _: SioPeer(p.port, auth={"room": "all"}),
                                                    range(members)))
    outsiders = [SioPeer(p.port) for _ in range(OUTSIDERS)]
    try:
        p.wait_stats(lambda st: st["sockets"] == members + OUTSIDERS)
        received: List[List[int]] = [[] for _ in peers]

        def listen(k: int) -> None:
            while len(received[k]) < BROADCASTS:
                packet = peers[k].recv()
                if packet is None:
                    return
                assert isinstance(packet, str) and packet.startswith('2["tick",'), packet
                event, data = json.loads(packet[1:])
                received[k].append(data["n"])

        listeners = [gevent.spawn(listen, k) for k in range(len(peers))]
        before = p.stats()
        t0 = time.monotonic()
        report = http_get(p.port, f"/broadcast?room=all&n={BROADCASTS}&rate=100")
        try:
            gevent.joinall(listeners, timeout=30, raise_error=True)
        finally:
            gevent.killall(listeners)
        delivered = time.monotonic() - t0
        after = p.stats()

        # every member: every broadcast exactly once, in order
        expected = list(range(BROADCASTS))
        bad = [k for k, got in enumerate(received) if got != expected]
        assert not bad, f"{len(bad)} members saw {received[bad[0]][:10]}... instead of 0..{BROADCASTS - 1}"
        # one encode and one prepare per broadcast, whatever the room size
        encodes = after["counts"].get("encodes", 0) - before["counts"].get("encodes", 0)
        prepares = after["counts"].get("prepares", 0) - before["counts"].get("prepares", 0)
        assert (encodes, prepares) == (BROADCASTS, BROADCASTS)
        # outsiders got nothing: their next packet is the answer to their own emit
        for peer in outsiders:
            peer.send('21["echo","me"]')
            assert peer.recv() == '31["me"]'
        cpu = after["cpu"] - before["cpu"]
        print(f"L3: {members} members x {BROADCASTS} broadcasts in {delivered:.2f} s; server CPU per broadcast "
              f"{cpu / BROADCASTS * 1e3:.2f} ms ({cpu / BROADCASTS / members * 1e6:.1f} us per member), "
              f"of which emit() {report['emit_cpu'] / BROADCASTS * 1e3:.2f} ms")
    finally:
        for peer in peers + outsiders:
            peer.close()
    p.wait_stats(lambda st: st["sockets"] == 0 and st["sessions"] == 0)
    p.signal()
    assert p.wait_exit(10) == 0


def test_l3_200_members_get_100_broadcasts_once_in_order_encoded_once(sio_process):
    room_broadcasts(sio_process, 200)


@pytest.mark.slow
def test_l3_1000_members_get_100_broadcasts_once_in_order_encoded_once(sio_process):
    room_broadcasts(sio_process, 1000)
