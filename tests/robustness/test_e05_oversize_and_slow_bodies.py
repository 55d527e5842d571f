"""E5: polling POST bodies that are too large, lie about their size or stall (CVE-2020-36048).

Expected: 413 before the body is read / as soon as the cap is crossed, without
buffering; extra bytes past a declared length are not Engine.IO data; a stalled
body gets 408 after ``body_timeout``; in every case the connection is released
(no greenlet or fd waits for bytes the client will never send).
"""
from __future__ import annotations

import json
import time

import gevent

from robust_helpers import connect, open_fds, read_response, read_until_eof

CAP = 100_000


def post_head(h, sid: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {h.target(sid=sid)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def test_e05_declared_length_over_cap_is_413_without_reading(robust_server):
    h = robust_server(max_http_buffer_size=CAP, body_timeout=30)
    sid = h.new_sid()
    with connect(h.port) as s:
        # Only the head: a server that waited for the 10 MB body would never answer.
        s.sendall(post_head(h, sid, 10_000_000))
        t0 = time.monotonic()
        status, headers, body = read_response(s)
        assert status == 413
        assert json.loads(body)["code"] == 3
        assert time.monotonic() - t0 < 2
        # ... and it does not wait for the body afterwards either: the connection is released.
        read_until_eof(s, limit=3)
    assert h.wait_disconnect(sid) == "transport error"


def test_e05_chunked_body_crossing_cap_is_413_before_it_ends(robust_server):
    h = robust_server(max_http_buffer_size=CAP, body_timeout=30)
    sid = h.new_sid()
    with connect(h.port) as s:
        s.sendall(post_head(h, sid, 0).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked"))
        chunk = b"4" + b"a" * 9_999
        for _ in range(CAP // len(chunk) + 2):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # no terminating chunk: the answer must come while the body is still "open"
        status, _, _ = read_response(s)
        assert status == 413
        read_until_eof(s, limit=3)
    assert h.wait_disconnect(sid) == "transport error"
    assert h.messages == []


def test_e05_bytes_past_the_declared_length_are_not_engine_data(robust_server):
    h = robust_server(max_http_buffer_size=CAP)
    sid = h.new_sid()
    with connect(h.port) as s:
        s.sendall(post_head(h, sid, 2) + b"4a" + b"4smuggled\x1e4more")
        status, _, body = read_response(s)
        assert (status, body) == (200, b"ok")
        s.settimeout(3)
        try:
            rest = s.recv(65536)  # the extra bytes are read as a (bad) next request, if at all
        except (OSError, ConnectionError):
            rest = b""
        assert b"smuggled" not in rest
    h.wait_for(lambda: h.messages, what="message")
    gevent.sleep(0.2)
    assert h.messages == [(sid, "a")]


def test_e05_declared_larger_then_stall_is_408_after_body_timeout(robust_server):
    h = robust_server(max_http_buffer_size=CAP, body_timeout=0.5)
    sid = h.new_sid()
    fds = open_fds()
    with connect(h.port) as s:
        s.sendall(post_head(h, sid, 1000) + b"4" + b"a" * 99)
        t0 = time.monotonic()
        status, _, body = read_response(s)
        elapsed = time.monotonic() - t0
        assert status == 408
        assert json.loads(body)["code"] == 3
        assert 0.4 <= elapsed < 3
        # NO LEAK: the server does not keep waiting for the 900 missing bytes.
        read_until_eof(s, limit=3)
    assert h.wait_disconnect(sid) == "transport error"
    h.wait_for(lambda: open_fds() <= fds, what="fd released")


def test_e05_many_stalled_bodies_are_all_released(robust_server):
    h = robust_server(max_http_buffer_size=CAP, body_timeout=0.5)
    fds = open_fds()
    socks = []
    for _ in range(30):
        sid = h.new_sid()
        s = connect(h.port)
        s.sendall(post_head(h, sid, 5000) + b"4ab")
        socks.append(s)
    try:
        for s in socks:
            status, _, _ = read_response(s)
            assert status == 408
            read_until_eof(s, limit=3)
    finally:
        for s in socks:
            s.close()
    h.wait_for(lambda: not h.eio.sessions, what="sessions closed")
    h.wait_for(lambda: open_fds() <= fds, what="fds released")
