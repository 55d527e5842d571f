"""Writes made during one loop pass leave together (WriteBatch), without losing order or bounds.

A :class:`WebSocketConnection` over one end of a socket pair: the test writes
from its own greenlet, so nothing can reach the peer before that greenlet
yields to the event loop; the other end is read with plain non-blocking
``recv`` calls and parsed as client-side frames.
"""
from __future__ import annotations

import socket

import gevent
import gevent.socket
import pytest

from siothread.engine import Server
from siothread.engine.websocket import _BATCH_LIMIT, WebSocketConnection
from siothread.protocol import websocket as wsproto


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    server_side = gevent.socket.socket(fileno=a.detach())  # blocking for its greenlets, like a server's
    b.setblocking(False)
    yield server_side, b
    server_side.close()
    b.close()


def make_connection(gsock, **options) -> WebSocketConnection:
    return WebSocketConnection(Server(**options), gsock)


def read_available(peer: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = peer.recv(1 << 20)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def parse(data: bytes) -> list:
    parser = wsproto.FrameParser(expect_masked=False, max_message_size=1 << 30)
    parser.feed(data)
    return list(parser.events())


def texts(events: list) -> list:
    return [e.data for e in events if type(e) is wsproto.Message]


def test_writes_of_one_pass_wait_for_the_writer_to_yield(pair):
    gsock, peer = pair
    conn = make_connection(gsock)
    conn.write(wsproto.encode_text("4a"))
    conn.write(wsproto.encode_text("4b"))
    conn.write(wsproto.encode_text("4c"))
    assert read_available(peer) == b""  # still in this greenlet's pass
    gevent.sleep(0)
    assert texts(parse(read_available(peer))) == ["4a", "4b", "4c"]


def test_a_batch_past_the_limit_goes_out_at_once(pair):
    gsock, peer = pair
    conn = make_connection(gsock)
    chunk = "x" * 1000
    n = _BATCH_LIMIT // 1000 + 2
    for i in range(n):
        conn.write(wsproto.encode_text(f"4{i:04d}{chunk}"))
    early = read_available(peer)  # no yield yet: only the limit can have sent this
    assert len(early) >= _BATCH_LIMIT
    gevent.sleep(0)
    got = texts(parse(early + read_available(peer)))
    assert [int(t[1:5]) for t in got] == list(range(n))


def test_close_after_batched_writes_sends_them_first(pair):
    gsock, peer = pair
    conn = make_connection(gsock)
    conn.write(wsproto.encode_text("4one"))
    conn.write(wsproto.encode_text("4two"))
    conn.close_session_transport()
    try:
        events = parse(read_available(peer))
    finally:
        conn._close_timer.cancel()
    assert texts(events) == ["4one", "4two"]
    assert type(events[-1]) is wsproto.Close


def test_a_peer_that_does_not_read_gets_everything_in_order_later(pair):
    gsock, peer = pair
    conn = make_connection(gsock, max_queue_bytes=64 << 20, max_queue=100_000)
    body = "y" * 30_000
    n = 200  # ~6 MB: far more than the socket buffers hold
    for i in range(n):
        assert conn.write(wsproto.encode_text(f"4{i:05d}{body}"))
        if i % 7 == 0:
            gevent.sleep(0)  # several passes, some of them hitting a full socket
    gevent.sleep(0)
    assert conn.buffered_bytes > 0  # the kernel did not take it all: a backlog formed
    received = bytearray()
    parser = wsproto.FrameParser(expect_masked=False, max_message_size=1 << 30)
    got = []
    with gevent.Timeout(30):
        while len(got) < n:
            data = read_available(peer)
            if not data:
                gevent.sleep(0.001)
                continue
            received += data
            parser.feed(data)
            got.extend(e.data for e in parser.events() if type(e) is wsproto.Message)
    assert [int(t[1:6]) for t in got] == list(range(n))
    assert conn.buffered_bytes == 0


def test_the_backlog_stays_bounded_when_the_writer_never_yields(pair):
    gsock, peer = pair
    eio = Server(max_queue_bytes=1 << 20, max_queue=10_000)
    overflows = []
    eio.session_overflow = lambda session: overflows.append(session) or False  # type: ignore[method-assign]
    conn = WebSocketConnection(eio, gsock)
    conn.session = object()
    body = wsproto.encode_text("4" + "z" * 10_000)
    accepted = sum(1 for _ in range(1000) if conn.write(body))  # 10 MB, no yield in between
    assert overflows, "writing 10 MB past a 1 MB cap must overflow"
    assert conn.buffered_bytes <= (1 << 20)
    assert accepted < 1000
