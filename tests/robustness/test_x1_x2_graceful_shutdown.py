"""X1 / X2 at the Engine.IO level: SIGTERM with open sessions, in a process that must exit by itself.

X1: sessions on both transports are told (a WebSocket close frame; a parked
GET answered with CLOSE), the disconnect handler runs once per session with
"server shutting down", and the process exits within ``shutdown_timeout`` +
slack (the engine.io ``server-close*.js`` fixture pattern).
X2: an application disconnect handler that never finishes does not hold the
process past its deadline.
The Socket.IO-level variant (pending acks, handlers mid-run) is in
``test_x1_socketio_shutdown.py``.
"""
from __future__ import annotations

import json
import time
from typing import Iterator

import gevent
import pytest

from tests.conftest import free_port
from robust_helpers import FrameReader, connect, read_response, read_response_head, ws_request
from server_process import ServerProcess

SHUTDOWN_TIMEOUT = 2.0
SLACK = 4.0


@pytest.fixture
def server_process() -> Iterator:
    started = []

    def start(options: dict, extra=None) -> ServerProcess:
        p = ServerProcess(free_port(), options, extra)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def open_sessions(p: ServerProcess, n: int):
    ws = []
    for _ in range(n):
        s = connect(p.port, timeout=15)
        s.sendall(ws_request(p.target("websocket"), p.port))
        status, _, rest = read_response_head(s)
        assert status == 101
        r = FrameReader(s, rest)
        assert r.next()[1].startswith(b"0{")
        ws.append((s, r))
    gets = []
    for _ in range(n):
        with connect(p.port) as s:
            s.sendall(f"GET {p.target()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sid = json.loads(read_response(s)[2][1:])["sid"]
        g = connect(p.port, timeout=15)
        g.sendall(f"GET {p.target(sid=sid)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        gets.append(g)
    p.wait_stats(lambda st: st["sessions"] == 2 * n)
    gevent.sleep(0.2)  # the GETs are parked
    return ws, gets


def test_x1_sigterm_with_open_sessions_exits_and_tells_every_client(server_process):
    p = server_process({"ping_interval": 25, "ping_timeout": 20},
                       ["--shutdown-timeout", str(SHUTDOWN_TIMEOUT)])
    ws, gets = open_sessions(p, 20)
    t0 = time.monotonic()
    p.signal()
    code = p.wait_exit(SHUTDOWN_TIMEOUT + SLACK)
    elapsed = time.monotonic() - t0
    assert code is not None, "the server did not exit after SIGTERM"
    assert code == 0
    assert elapsed < SHUTDOWN_TIMEOUT + SLACK
    for s, r in ws:
        _, close = r.until_close()
        assert close in (1000, 1001)
        s.close()
    for g in gets:
        status, _, body = read_response(g)
        assert status == 200 and body.split(b"\x1e")[-1] == b"1"
        g.close()
    st = p.exit_stats()
    assert st["counts"]["disconnects"] == 40
    assert st["reasons"] == {"server shutting down": 40}
    assert st["sessions"] == 0


def test_x2_blocking_disconnect_handler_does_not_hold_the_process(server_process):
    p = server_process({"ping_interval": 25, "ping_timeout": 20},
                       ["--shutdown-timeout", str(SHUTDOWN_TIMEOUT), "--block-disconnect", "600"])
    ws, gets = open_sessions(p, 3)
    t0 = time.monotonic()
    p.signal()
    code = p.wait_exit(SHUTDOWN_TIMEOUT + SLACK)
    for s, _ in ws:
        s.close()
    for g in gets:
        g.close()
    assert code is not None, (
        f"still running {time.monotonic() - t0:.1f} s after SIGTERM: a disconnect handler that never "
        f"returns blocks the shutdown past its deadline"
    )
