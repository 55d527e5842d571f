"""Nothing outlives a session: after many sessions end, gracefully, abruptly or by ping
timeout, the registry is empty and (autouse leak check) greenlets and fds are back to
their baseline. Plus the slowloris row (E13): a header trickling in is cut off after
``header_timeout`` while normal clients are served.
"""
from __future__ import annotations

import json
import socket
import time
from typing import Any, List

import gevent
import requests

import siothread
from siothread.engine import Server

from eio_helpers import upgrade, ws_close, ws_connect, ws_open

N = 20


def all_closed(h: Any, sids: List[str], reasons: tuple) -> None:
    h.wait_for(lambda: len(h.disconnects) >= len(sids), timeout=5, what="every disconnect")
    assert sorted(s for s, _ in h.disconnects) == sorted(sids)
    assert {r for _, r in h.disconnects} <= set(reasons), h.disconnects
    assert h.eio.sessions == {}


def test_graceful_closes(engine_server, ws_handler):
    h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
    sids = []
    for _ in range(N):
        # polling: the client's CLOSE packet
        sid, _ = h.handshake()
        assert h.post(sid, "4x\x1e1").text == "ok"
        sids.append(sid)
        # WebSocket: a close frame
        ws, value = ws_open(h.ws_url())
        ws.send("4y")
        ws_close(ws)
        sids.append(value["sid"])
        # upgraded, then the CLOSE packet
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        ws.send("5")
        ws.send("1")
        h.wait_disconnect(sid)
        ws_close(ws)
        sids.append(sid)
    all_closed(h, sids, ("transport close",))


def test_server_side_closes(engine_server, ws_handler):
    h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
    sids, sockets = [], []
    for _ in range(N):
        sid, _ = h.handshake()
        sids.append(sid)
        ws, value = ws_open(h.ws_url())
        sockets.append(ws)
        sids.append(value["sid"])
    parked = []
    for sid in sids[::2]:
        parked.append(gevent.spawn(h.poll, sid))
        # one at a time: concurrent name lookups would grow gevent's resolver thread pool,
        # whose workers the leak check counts as greenlets
        gevent.sleep(0.01)
    gevent.sleep(0.1)
    for sid in sids:
        h.eio.disconnect(sid)
    assert all(g.get(timeout=5).text == "1" for g in parked)
    for ws in sockets:
        ws_close(ws)
    all_closed(h, sids, ("server disconnect",))


def test_abrupt_tcp_closes(engine_server, ws_handler):
    h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
    sids = []
    for _ in range(N):
        # WebSocket session: TCP closed without a close frame
        ws, value = ws_open(h.ws_url())
        ws.sock.close()
        ws.shutdown()
        sids.append(value["sid"])
        # polling session: the parked GET's connection is dropped
        sid, _ = h.handshake()
        s = socket.create_connection(("127.0.0.1", h.port))
        s.sendall(f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        gevent.sleep(0.01)
        s.close()
        sids.append(sid)
        # upgrade dropped after the probe, then the polling session closed by the client
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        ws.sock.close()
        ws.shutdown()
        h.wait_for(lambda: h.eio.transport(sid) == "polling" and h.eio.sessions[sid].upgrade_ws is None,
                   what="upgrade abandoned")
        assert h.post(sid, "1").text == "ok"
        sids.append(sid)
    all_closed(h, sids, ("transport close", "transport error"))


def test_ping_timeouts(engine_server, ws_handler):
    h = engine_server(ws_handler, ping_interval=0.2, ping_timeout=0.2)
    sids, sockets = [], []
    for _ in range(N):
        sid, _ = h.handshake()
        sids.append(sid)
        ws, value = ws_open(h.ws_url())
        sockets.append(ws)
        sids.append(value["sid"])
    all_closed(h, sids, ("ping timeout",))
    for ws in sockets:
        ws_close(ws)


def test_slowloris_is_cut_off_after_header_timeout():
    eio = Server(ping_interval=5, ping_timeout=5)
    srv = siothread.make_server(siothread.WSGIApp(eio), "127.0.0.1", 0, header_timeout=0.5)
    srv.start()
    port = srv.server_port
    try:
        request = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        result: dict = {}

        def slowloris() -> None:
            s = socket.create_connection(("127.0.0.1", port))
            t0 = time.monotonic()
            try:
                for byte in request:
                    s.sendall(bytes([byte]))
                    s.settimeout(0.2)
                    try:
                        if s.recv(1024) == b"":
                            break
                    except socket.timeout:
                        continue
            except OSError:
                pass
            result["elapsed"] = time.monotonic() - t0
            s.close()

        g = gevent.spawn(slowloris)
        gevent.sleep(0.1)
        # a normal client is served while the slow one trickles
        r = requests.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=2)
        assert r.status_code == 200
        sid = json.loads(r.text[1:])["sid"]
        g.get(timeout=5)
        # closed after about header_timeout, long before the 100+ bytes (20 s) were sent
        assert 0.4 <= result["elapsed"] < 2.0, result
        eio.disconnect(sid)
    finally:
        eio.shutdown(timeout=1)
        srv.stop(timeout=1)


def test_incomplete_websocket_handshake_is_cut_off():
    eio = Server(ping_interval=5, ping_timeout=5)
    srv = siothread.make_server(siothread.WSGIApp(eio), "127.0.0.1", 0, header_timeout=0.5)
    srv.start()
    try:
        s = socket.create_connection(("127.0.0.1", srv.server_port))
        t0 = time.monotonic()
        s.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        s.settimeout(3)
        data = b""
        try:
            while True:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        elapsed = time.monotonic() - t0
        s.close()
        # cut off (an error status at most, never a 101) after about header_timeout
        assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
        assert 0.4 <= elapsed < 2.0, elapsed
        assert eio.sessions == {}
        ws = ws_connect(f"ws://127.0.0.1:{srv.server_port}/socket.io/?EIO=4&transport=websocket")
        assert ws.recv().startswith("0")
        ws_close(ws)
    finally:
        eio.shutdown(timeout=1)
        srv.stop(timeout=1)
