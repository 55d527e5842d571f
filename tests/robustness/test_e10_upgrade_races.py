"""E10: races and protocol-revision tricks around the polling -> WebSocket upgrade.

Expected: packets delivered exactly once and in order in both directions while
the upgrade is in flight; an upgrade request with another ``EIO`` (or none) is
refused (CVE-2026-102599) and the polling session continues; a probe that
breaks the upgrade protocol drops the WebSocket, not the session.
"""
from __future__ import annotations

import gevent
import pytest
import requests
import websocket

from tests.support.engine_harness import EngineHarness


def ws(url: str) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=5)


def close(conn: websocket.WebSocket) -> None:
    """Close, and release the socket even when the server closed first (websocket-client keeps it)."""
    try:
        conn.close(timeout=1)
    except (websocket.WebSocketException, OSError):
        pass
    conn.shutdown()


def ws_url(h: EngineHarness, sid: str, eio: str = "EIO=4&") -> str:
    return f"ws://127.0.0.1:{h.port}/engine.io/?{eio}transport=websocket&sid={sid}"


def drain_polling(h: EngineHarness, sid: str, s: requests.Session) -> list:
    r = s.get(h.url(sid=sid), timeout=5)
    assert r.status_code == 200, r.text
    return r.text.split("\x1e")


@pytest.mark.parametrize("eio", ["EIO=3&", "", "EIO=5&", "EIO=04&"])
def test_e10_upgrade_with_another_protocol_revision_is_refused(robust_server, eio):
    h = robust_server(ping_interval=5, ping_timeout=5)
    with requests.Session() as s:
        sid = h.new_sid(s)
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            ws(ws_url(h, sid, eio))
        assert info.value.status_code == 400
        # the polling session is untouched and still works
        assert s.post(h.url(sid=sid), data="4still here", timeout=5).text == "ok"
        assert drain_polling(h, sid, s) == ["4still here"]
    assert h.eio.transport(sid) == "polling"


def test_e10_server_emits_during_the_probe_window_arrive_once_in_order(robust_server):
    h = robust_server(ping_interval=5, ping_timeout=5)
    h.echo = False
    total = 300
    with requests.Session() as s:
        sid = h.new_sid(s)

        def sender() -> None:
            for i in range(total):
                h.eio.send(sid, str(i))
                gevent.sleep(0.001 if i % 10 == 0 else 0)

        task = gevent.spawn(sender)
        got: list = []
        got += [p for p in drain_polling(h, sid, s) if p.startswith("4")]
        conn = ws(ws_url(h, sid))
        try:
            conn.send("2probe")
            assert conn.recv() == "3probe"
            # the client pauses polling: one last GET, answered at once
            got += [p for p in drain_polling(h, sid, s) if p.startswith("4")]
            conn.send("5")
            task.join(timeout=10)
            while len(got) < total:
                msg = conn.recv()
                if msg.startswith("4"):
                    got.append(msg)
        finally:
            close(conn)
    assert got == [f"4{i}" for i in range(total)]


def test_e10_client_posts_during_the_upgrade_are_delivered_once_in_order(robust_server):
    h = robust_server(ping_interval=5, ping_timeout=5)
    h.echo = False
    with requests.Session() as s:
        sid = h.new_sid(s)
        conn = ws(ws_url(h, sid))
        try:
            conn.send("2probe")
            assert conn.recv() == "3probe"
            assert s.post(h.url(sid=sid), data="4a\x1e4b", timeout=5).text == "ok"
            conn.send("5")
            conn.send("4c")
            assert s.post(h.url(sid=sid), data="4late", timeout=5).status_code == 400  # upgraded: refused
            h.wait_for(lambda: len(h.messages) >= 3, what="messages")
            gevent.sleep(0.1)
        finally:
            close(conn)
    assert [d for _, d in h.messages] == ["a", "b", "c"]


def test_e10_probe_breaking_the_upgrade_protocol_keeps_the_polling_session(robust_server):
    h = robust_server(ping_interval=5, ping_timeout=5)
    with requests.Session() as s:
        sid = h.new_sid(s)
        conn = ws(ws_url(h, sid))
        try:
            conn.send("4not a probe")
            conn.settimeout(3)
            with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
                while True:
                    conn.recv()
                    if not conn.connected:
                        raise websocket.WebSocketConnectionClosedException()
        finally:
            close(conn)
        gevent.sleep(0.1)
        assert sid in h.eio.sessions
        assert h.eio.transport(sid) == "polling"
        assert s.post(h.url(sid=sid), data="4ok", timeout=5).text == "ok"
        assert "4ok" in drain_polling(h, sid, s)


def test_e10_upgrade_racing_a_server_close_leaves_nothing_behind(robust_server):
    """The server closes the session while a probe is in flight: one disconnect, the WS is closed."""
    h = robust_server(ping_interval=5, ping_timeout=5)
    for _ in range(20):
        with requests.Session() as s:
            sid = h.new_sid(s)
            conn = ws(ws_url(h, sid))
            try:
                conn.send("2probe")
                gevent.spawn(h.eio.disconnect, sid)
                conn.settimeout(3)
                try:
                    while conn.recv():
                        pass
                except (websocket.WebSocketException, OSError):
                    pass
            finally:
                close(conn)
        h.wait_disconnect(sid)
        assert len(h.reasons(sid)) == 1
    h.wait_for(lambda: not h.eio.sessions, what="no sessions")
