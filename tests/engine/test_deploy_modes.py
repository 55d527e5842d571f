"""The same application (``app_eio_echo.app``) in a real server process, in every supported mode.

(a) gevent ``pywsgi.WSGIServer`` with gevent-websocket's ``WebSocketHandler``;
(b) gunicorn with ``geventwebsocket.gunicorn.workers.GeventWebSocketWorker``;
(c) gunicorn with the stock ``-k gevent`` worker;
(d) ``siothread.serve``.
Each mode must carry a polling session, a WebSocket session and an upgrade, and answer
the official suites' races the way Node does (a second WebSocket for an upgraded sid, a
client's CLOSE handled before its GET).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from eio_helpers import ws_close, ws_connect, ws_next, ws_open
from tests.conftest import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

MODES = {
    "pywsgi-geventwebsocket": lambda port: [sys.executable, str(HERE / "serve_eio_echo.py"),
                                            "pywsgi-geventwebsocket", str(port)],
    "gunicorn-geventwebsocket": lambda port: [
        str(BIN / "gunicorn"), "-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker",
        "-w", "1", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "--chdir", str(HERE),
        "app_eio_echo:app"],
    "gunicorn-gevent": lambda port: [
        str(BIN / "gunicorn"), "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
        "--graceful-timeout", "2", "--chdir", str(HERE), "app_eio_echo:app"],
    "siothread-serve": lambda port: [sys.executable, str(HERE / "serve_eio_echo.py"), "siothread", str(port)],
}


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start listening")


@pytest.fixture(params=list(MODES), scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the app in one mode (once per module: the tests of a mode share the process);
    yields its base URL; the process is ended by its PID."""
    mode = request.param
    port = free_port()
    log_path = tmp_path_factory.mktemp(mode) / "server.log"
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(MODES[mode](port), stdout=log, stderr=subprocess.STDOUT, cwd=str(HERE),
                                env=env)
    try:
        wait_listening(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        output = log_path.read_text(errors="replace")
        assert "Traceback" not in output, output


def url(base: str, transport: str = "polling", sid: str = None) -> str:
    u = f"http://{base}/socket.io/?EIO=4&transport={transport}"
    return u + (f"&sid={sid}" if sid else "")


def ws_url(base: str, sid: str = None) -> str:
    u = f"ws://{base}/socket.io/?EIO=4&transport=websocket"
    return u + (f"&sid={sid}" if sid else "")


def test_polling_session(served):
    with requests.Session() as http:
        r = http.get(url(served), timeout=5)
        assert r.status_code == 200 and r.text.startswith("0")
        sid = json.loads(r.text[1:])["sid"]
        r = http.post(url(served, sid=sid), data="4hello\x1ebAQID", timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        r = http.get(url(served, sid=sid), timeout=5)
        assert (r.status_code, r.text) == (200, "4hello\x1ebAQID")
        # the client's CLOSE: test_client_close_posted_before_its_get


def test_websocket_session(served):
    ws, value = ws_open(ws_url(served))
    try:
        assert value["upgrades"] == []
        ws.send("4hello")
        assert ws_next(ws) == "4hello"
        ws.send_binary(b"\x00\x01\xff")
        assert ws_next(ws) == b"\x00\x01\xff"
        big = "x" * 200_000
        ws.send("4" + big)
        assert ws_next(ws) == "4" + big
    finally:
        ws_close(ws)


def test_upgrade(served):
    with requests.Session() as http:
        r = http.get(url(served), timeout=5)
        sid = json.loads(r.text[1:])["sid"]
        ws = ws_connect(ws_url(served, sid))
        try:
            ws.send("2probe")
            assert ws_next(ws) == "3probe"
            r = http.get(url(served, sid=sid), timeout=5)
            assert (r.status_code, r.text) == (200, "6")
            ws.send("5")
            ws.send("4after upgrade")
            assert ws_next(ws) == "4after upgrade"
            ws.send_binary(b"\x01\x02")
            assert ws_next(ws) == b"\x01\x02"
            # polling with the upgraded sid is refused
            assert http.get(url(served, sid=sid), timeout=5).status_code == 400
        finally:
            ws_close(ws)


def test_second_websocket_for_the_sid_is_accepted_then_closed(served):
    """As Node (``onWebSocket()``): a WebSocket for a sid that is upgrading, or has upgraded,
    completes its handshake and is closed at once; the first WebSocket carries on."""
    with requests.Session() as http:
        sid = json.loads(http.get(url(served), timeout=5).text[1:])["sid"]
    ws = ws_connect(ws_url(served, sid))
    try:
        ws.send("2probe")
        assert ws_next(ws) == "3probe"
        for phase in ("upgrading", "upgraded"):
            second = ws_connect(ws_url(served, sid))  # no HTTP error: the 101 came
            try:
                assert ws_next(second) == ("close", 1000), phase
            finally:
                ws_close(second)
            if phase == "upgrading":
                ws.send("5")
        ws.send("4still here")
        assert ws_next(ws) == "4still here"
    finally:
        ws_close(ws)


def test_client_close_posted_before_its_get(served):
    """The client's POST ``1`` handled before its GET (they are sent at once): the GET
    still gets a NOOP, and the GET after it an unknown sid."""
    with requests.Session() as http:
        sid = json.loads(http.get(url(served), timeout=5).text[1:])["sid"]
        r = http.post(url(served, sid=sid), data="1", timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        r = http.get(url(served, sid=sid), timeout=5)
        assert (r.status_code, r.text) == (200, "6")
        r = http.get(url(served, sid=sid), timeout=5)
        assert r.status_code == 400 and r.json()["code"] == 1


def test_connection_close_is_answered_in_kind(served):
    """A request asking to close gets ``Connection: close`` back: Node's keep-alive agent
    (node-fetch sends ``Connection: close``) reuses a socket whose response does not say so."""
    host, port = served.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {served}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower().split("\r\n")
    assert head[0].startswith("http/1.1 200"), head
    assert "connection: close" in head, head


def test_foreign_origin_refused(served):
    r = requests.get(url(served), headers={"Origin": "https://evil.example"}, timeout=5)
    assert r.status_code == 403
    refused: List[object] = []
    try:
        ws = ws_connect(ws_url(served), origin="https://evil.example")
    except Exception as exc:  # HTTP 403 before the upgrade
        refused.append(exc)
    else:
        try:  # gevent-websocket answered 101 first: the engine closes with 1008
            assert ws_next(ws) == ("close", 1008)
        finally:
            ws_close(ws)


def test_cancelled_long_poll_closes_the_session(served):
    with requests.Session() as http:
        sid = json.loads(http.get(url(served), timeout=5).text[1:])["sid"]
    host, port = served.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {served}\r\n\r\n".encode())
        time.sleep(0.1)
    # a POST does not compete with a parked GET: it succeeds while the session lives
    deadline = time.monotonic() + 3
    while requests.post(url(served, sid=sid), data="4ping?", timeout=5).status_code == 200:
        assert time.monotonic() < deadline, "the session outlived its cancelled long poll"
        time.sleep(0.05)
