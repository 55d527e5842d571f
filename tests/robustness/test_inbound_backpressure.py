"""Inbound backpressure: a client cannot queue unbounded work (memory) behind a slow handler.

Events wait for their socket's handler in an inbox; past ``max_queued_events``
(or ``max_queued_bytes`` for large events) the server stops reading from that
client until the handler has worked through half of it, so TCP flow control
holds the rest in the client. Meanwhile the client is not timed out for a PONG
that sits unread behind its own events, and order is kept.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, List

import gevent
import gevent.event
import pytest
import requests

import siothread
from robust_helpers import LockedSends, SioPeer, frame


@pytest.fixture
def serve_sio() -> Iterator[Any]:
    servers: List[Any] = []

    def start(sio: siothread.Server) -> int:
        srv = siothread.make_server(siothread.WSGIApp(sio), "127.0.0.1", 0)
        srv.start()
        servers.append(srv)
        return int(srv.server_port)

    yield start
    for srv in servers:
        srv.stop(timeout=1)


def answer_pings(peer: SioPeer) -> None:
    while peer.recv() is not None:
        pass


def test_a_flood_at_a_blocked_handler_stays_in_the_clients_tcp_window(serve_sio):
    cap = 50
    sio = siothread.Server(max_queued_events=cap, ping_interval=0.3, ping_timeout=0.3)
    gate = gevent.event.Event()
    seen: List[int] = []
    depth = [0]
    gone: List[str] = []

    @sio.on("n")
    def on_n(sid: str, n: int, blob: str) -> None:
        if n == 0:
            gate.wait()
        depth[0] = max(depth[0], len(sio._socket(sid).inbox))
        seen.append(n)

    @sio.on("disconnect")
    def on_disconnect(sid: str, reason: str) -> None:
        gone.append(reason)

    port = serve_sio(sio)
    peer = SioPeer(port)
    peer.sock.settimeout(None)  # the writer is meant to block for as long as the handler does
    peer.sock = LockedSends(peer.sock)  # PONGs go between the flood's pieces
    pinger = gevent.spawn(answer_pings, peer)
    total = 40_000  # ~40 MB: far more than the socket buffers of both ends hold
    blob = "x" * 1000

    def write() -> None:
        for start in range(0, total, 1000):
            peer.sock.sendall(b"".join(frame(1, f'42["n",{n},"{blob}"]'.encode())
                                       for n in range(start, start + 1000)))
            gevent.sleep(0)

    writer = gevent.spawn(write)
    try:
        # Longer than ping_interval + ping_timeout: the PONGs sit behind the unread flood.
        gevent.sleep(1.0)
        sock = sio._socket(peer.sid)
        assert len(sock.inbox) <= cap + 1
        assert not writer.dead, "the server read the whole flood while its handler was blocked"
        gate.set()
        writer.join(timeout=60)
        assert writer.successful(), (gone, len(seen), writer.exception)
        with gevent.Timeout(60):
            while len(seen) < total:
                gevent.sleep(0.05)
        assert seen == list(range(total))
        assert depth[0] <= cap + 1
        assert not gone and not pinger.dead
    finally:
        gate.set()
        peer.close()
        gevent.joinall([writer, pinger], timeout=5)


def test_large_events_are_bounded_in_bytes(serve_sio):
    limit = 64 * 1024
    sio = siothread.Server(max_queued_bytes=limit)
    seen: List[int] = []
    most = [0]

    @sio.on("big")
    def on_big(sid: str, n: int, blob: str) -> None:
        most[0] = max(most[0], sio._socket(sid).queued_bytes)
        seen.append(n)
        gevent.sleep(0.002)

    port = serve_sio(sio)
    peer = SioPeer(port)
    pinger = gevent.spawn(answer_pings, peer)
    blob = "y" * 10_000
    try:
        peer.sock.sendall(b"".join(frame(1, f'42["big",{n},"{blob}"]'.encode()) for n in range(60)))
        with gevent.Timeout(30):
            while len(seen) < 60:
                gevent.sleep(0.02)
        assert seen == list(range(60))
        assert most[0] <= limit + 10_100  # one event past the bound, then reading stops
        assert sio._socket(peer.sid).queued_bytes == 0
    finally:
        peer.close()
        pinger.join(timeout=5)


def test_a_polling_payload_is_worked_through_in_bounded_steps(serve_sio):
    cap = 10
    sio = siothread.Server(max_queued_events=cap)
    seen: List[int] = []
    depth = [0]

    @sio.on("n")
    def on_n(sid: str, n: int) -> None:
        depth[0] = max(depth[0], len(sio._socket(sid).inbox))
        seen.append(n)
        gevent.sleep(0.001)

    port = serve_sio(sio)
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    http = requests.Session()
    sid = json.loads(http.get(base, timeout=5).text[1:])["sid"]
    url = f"{base}&sid={sid}"
    assert http.post(url, data="40", timeout=5).text == "ok"
    assert http.get(url, timeout=5).text.startswith("40")
    body = "\x1e".join(f'42["n",{n}]' for n in range(100))
    assert http.post(url, data=body, timeout=30).text == "ok"
    with gevent.Timeout(30):
        while len(seen) < 100:
            gevent.sleep(0.02)
    assert seen == list(range(100))
    assert depth[0] <= cap + 1
    http.post(url, data="1", timeout=5)
    http.close()


def test_the_bounds_are_validated():
    with pytest.raises(ValueError):
        siothread.Server(max_queued_events=1)
    with pytest.raises(ValueError):
        siothread.Server(max_queued_bytes=0)
    assert siothread.Server(max_http_buffer_size=20_000_000).max_queued_bytes == 40_000_000
