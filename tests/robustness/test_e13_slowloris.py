"""E13 / E14: slowloris peers against the hardened pywsgi handler.

gevent's pywsgi has no read timeout at all; siothread's handler adds a header
deadline (total, not per ``recv``), an idle deadline between keep-alive
requests, and the engine bounds body reads. Expected: every slow socket is
closed after its deadline while normal clients keep completing handshakes.
CI runs 100 slow sockets; ``--run-slow`` runs the plan's 500.
"""
from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import gevent
import pytest

import siothread

from robust_helpers import connect, open_fds, raw_handshake, read_response, read_until_eof

HEADER_TIMEOUT = 1.0


def trickle_headers(h, stop: gevent.event.Event) -> float:
    """Send a request one byte every 0.1 s, never finishing; returns when the server closed it."""
    s = connect(h.port, timeout=30)
    t0 = time.monotonic()
    request = f"GET {h.target()} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {'a' * 500}\r\n".encode()
    try:
        for i in range(len(request)):
            if stop.is_set():
                break
            s.sendall(request[i:i + 1])
            gevent.sleep(0.1)
        return -1.0  # never closed
    except OSError:
        return time.monotonic() - t0
    finally:
        s.close()


def run_slowloris(h, n: int) -> None:
    fds = open_fds()
    stop = gevent.event.Event()
    slow = [gevent.spawn(trickle_headers, h, stop) for _ in range(n)]
    gevent.sleep(0.3)
    # normal clients still get through while the slow sockets are held
    t0 = time.monotonic()
    for _ in range(20):
        status, body = raw_handshake(h)
        assert status == 200 and body.startswith(b"0{")
    assert time.monotonic() - t0 < 5
    closed_after = [g.get(timeout=HEADER_TIMEOUT + 10) for g in slow]
    stop.set()
    assert all(0 < t for t in closed_after), "a slow socket was never closed"
    assert max(closed_after) < HEADER_TIMEOUT + 3
    h.wait_for(lambda: open_fds() <= fds, what="fds released")


def test_e13_slowloris_headers_100_sockets(robust_server):
    run_slowloris(robust_server(header_timeout=HEADER_TIMEOUT, ping_interval=5), 100)


@pytest.mark.slow
def test_e13_slowloris_headers_500_sockets(robust_server):
    run_slowloris(robust_server(header_timeout=HEADER_TIMEOUT, ping_interval=5), 500)


def test_e13_incomplete_websocket_handshake_is_closed(robust_server):
    h = robust_server(header_timeout=HEADER_TIMEOUT)
    with connect(h.port) as s:
        s.sendall(f"GET {h.target('websocket')} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n".encode())
        t0 = time.monotonic()
        data = read_until_eof(s, limit=HEADER_TIMEOUT + 3)
        assert data == b"" or data.startswith(b"HTTP/1.1 40")  # pywsgi answers 400 on the deadline
        assert time.monotonic() - t0 >= HEADER_TIMEOUT - 0.2
    assert h.eio.sessions == {}


def test_e13_idle_keep_alive_connection_is_closed(robust_server):
    h = robust_server(header_timeout=0.5, idle_timeout=0.5)
    with connect(h.port) as s:
        s.sendall(f"GET {h.target()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, _, _ = read_response(s)
        assert status == 200
        t0 = time.monotonic()
        assert read_until_eof(s, limit=5) == b""
        assert 0.8 <= time.monotonic() - t0 < 3  # idle_timeout + header_timeout


def test_e14_slow_post_body_gets_408_and_the_session_is_not_wedged(robust_server):
    h = robust_server(body_timeout=1.0, ping_interval=5, ping_timeout=5)
    sid = h.new_sid()
    with connect(h.port) as s:
        s.sendall(
            f"POST {h.target(sid=sid)} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            f"Content-Length: 1000000\r\n\r\n".encode()
        )
        t0 = time.monotonic()
        status = None
        try:
            for _ in range(100):  # 1 byte every 0.05 s: far too slow for a 1 MB body
                s.sendall(b"4")
                gevent.sleep(0.05)
                s.settimeout(0.001)
                try:
                    status, _, _ = read_response(s)
                    break
                except (TimeoutError, OSError):
                    continue
                finally:
                    s.settimeout(5)
        except OSError:
            pass
        if status is None:
            status, _, _ = read_response(s)
        assert status == 408
        assert 0.9 <= time.monotonic() - t0 < 4
    assert h.wait_disconnect(sid) == "transport error"
    # nothing is wedged: a new session works at once
    assert raw_handshake(h)[0] == 200


def test_e13_tls_handshake_that_never_starts_is_closed():
    """A TCP connection to a TLS server that never sends its ClientHello is closed after
    ``header_timeout``, and TLS clients keep being served meanwhile."""
    certs = Path(__file__).resolve().parent.parent / "client" / "certs"

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    srv = siothread.make_server(app, "127.0.0.1", 0, header_timeout=0.5,
                                certfile=str(certs / "cert.pem"), keyfile=str(certs / "key.pem"))
    srv.start()
    try:
        with connect(srv.server_port, timeout=10) as silent:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", srv.server_port), timeout=10) as raw:
                with context.wrap_socket(raw) as tls:
                    tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert b"ok" in read_until_eof(tls, limit=5)
            try:
                data = silent.recv(1)
            except ConnectionResetError:
                data = b""
            assert data == b"", "the server kept a silent TLS connection open"
    finally:
        srv.stop(timeout=1)
