"""The Engine.IO v4 protocol test suite, re-stated in Python on the raw protocol.

Each scenario of the official suite (engine.io-protocol ``test-suite/test-suite.js``)
appears under its own name, with the suite's timings (ping interval 300 ms,
ping timeout 200 ms, max payload 1e6), and runs under siothread's own server and
under pywsgi with gevent-websocket's handler (``suite_server``, ``ws_handler``);
the remaining tests cover the parts of
the spec and of the advisory table (rows E1-E18) the suite leaves out: CORS and
Origin, cookies, ``allow_request``, JSONP, compression, max payload, batching.
"""
from __future__ import annotations

import gzip
import json
import time
import zlib

import gevent
import gevent.monkey
import pytest
import requests
import websocket

from eio_helpers import (
    CLOSED, close_code, raw_http, upgrade, ws_close, ws_connect, ws_next, ws_open, ws_until_close,
)

OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
# Scheduling slack on top of the protocol deadlines (loaded CI machines).
SLACK = 0.6


def error_body(r: requests.Response) -> dict:
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    return json.loads(r.text)


def assert_ws_refused(url: str, handler: str, status: int = 400, close: int = None, **kw) -> None:
    """The WebSocket request is refused: an HTTP error before the upgrade (our handler) or,
    when gevent-websocket already answered 101, a close frame and nothing else."""
    if handler in ("siothread", "werkzeug"):
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            ws_connect(url, **kw)
        assert info.value.status_code == status
        return
    ws = ws_connect(url, **kw)
    try:
        seen, result = ws_until_close(ws)
        assert seen == []
        assert result == CLOSED or close_code(result) is not None
        if close is not None:
            assert close_code(result) == close
    finally:
        ws_close(ws)


def assert_ws_accepted_then_closed(url: str) -> None:
    """Node's answer to a WebSocket for a sid that cannot upgrade (``onWebSocket()``):
    the handshake completes (101), then a close frame comes, with no packet before it."""
    ws = ws_connect(url)
    try:
        seen, result = ws_until_close(ws)
        assert seen == []
        assert close_code(result) == 1000
    finally:
        ws_close(ws)


# =============================================================================
# handshake
# =============================================================================
class TestHandshakePolling:
    def test_successfully_opens_a_session(self, suite_server):
        r = requests.get(suite_server.url(), timeout=5)
        assert r.status_code == 200
        assert r.text.startswith("0")
        value = json.loads(r.text[1:])
        assert set(value) == OPEN_KEYS
        assert isinstance(value["sid"], str) and len(value["sid"]) >= 16
        assert value["upgrades"] == ["websocket"]
        # 300 ms must be reported as 300, not 0 (seconds truncated to int)
        assert value["pingInterval"] == 300
        assert value["pingTimeout"] == 200
        assert value["maxPayload"] == 1000000
        assert value["sid"] in suite_server.eio.sessions
        assert suite_server.connects == [value["sid"]]

    @pytest.mark.parametrize("query", ["transport=polling", "EIO=abc&transport=polling",
                                       "EIO=3&transport=polling", "EIO=&transport=polling",
                                       "EIO=5&transport=polling"])
    def test_fails_with_an_invalid_eio_query_parameter(self, suite_server, query):
        r = requests.get(suite_server.base + "?" + query, timeout=5)
        assert r.status_code == 400
        assert error_body(r) == {"code": 5, "message": "Unsupported protocol version"}
        assert suite_server.eio.sessions == {}

    @pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "EIO=4&transport=__proto__",
                                       "EIO=4&transport=constructor", "EIO=4&transport=hasOwnProperty"])
    def test_fails_with_an_invalid_transport_query_parameter(self, suite_server, query):
        r = requests.get(suite_server.base + "?" + query, timeout=5)
        assert r.status_code == 400
        assert error_body(r) == {"code": 0, "message": "Transport unknown"}
        assert suite_server.eio.sessions == {}

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
    def test_fails_with_an_invalid_request_method(self, suite_server, method):
        r = requests.request(method, suite_server.url(), data="4x", timeout=5)
        assert r.status_code == 400
        assert error_body(r)["code"] == 2
        assert suite_server.eio.sessions == {}

    @pytest.mark.parametrize("sid", ["test", "__class__", "__proto__", "%3Cb%3Ebold%3C%2Fb%3E"])
    def test_unknown_sid_is_refused_with_code_1(self, suite_server, sid):
        for method in ("GET", "POST"):
            r = requests.request(method, suite_server.url(sid=sid), data="4x", timeout=5)
            assert r.status_code == 400
            assert error_body(r) == {"code": 1, "message": "Session ID unknown"}
            assert "bold" not in r.text and "test" not in r.text
        assert suite_server.eio.sessions == {}

    def test_closed_session_sid_is_unknown(self, suite_server):
        sid, _ = suite_server.handshake()
        suite_server.eio.disconnect(sid)
        assert suite_server.poll(sid).text == "1"  # the CLOSE it was owed
        for method in ("GET", "POST"):
            r = requests.request(method, suite_server.url(sid=sid), data="4x", timeout=5)
            assert r.status_code == 400 and error_body(r)["code"] == 1


class TestHandshakeWebSocket:
    def test_successfully_opens_a_session(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=1_000_000)
        ws, value = ws_open(h.ws_url())
        try:
            assert set(value) == OPEN_KEYS
            assert value["upgrades"] == []
            assert value["pingInterval"] == 300
            assert value["pingTimeout"] == 200
            assert value["maxPayload"] == 1000000
            assert h.eio.transport(value["sid"]) == "websocket"
        finally:
            ws_close(ws)
        h.wait_disconnect(value["sid"])

    @pytest.mark.parametrize("query", ["transport=websocket", "EIO=abc&transport=websocket",
                                       "EIO=3&transport=websocket"])
    def test_fails_with_an_invalid_eio_query_parameter(self, engine_server, ws_handler, query):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        assert_ws_refused(h.ws_base + "?" + query, ws_handler)
        assert h.eio.sessions == {} and h.connects == []

    @pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc"])
    def test_fails_with_an_invalid_transport_query_parameter(self, engine_server, ws_handler, query):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        assert_ws_refused(h.ws_base + "?" + query, ws_handler)
        assert h.eio.sessions == {} and h.connects == []

    def test_websocket_without_upgrade_headers_is_refused(self, suite_server):
        r = requests.get(suite_server.url("websocket"), timeout=5)
        assert r.status_code == 400
        assert error_body(r)["code"] == 3
        assert suite_server.eio.sessions == {}

    def test_websocket_with_unknown_sid_is_refused(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        assert_ws_refused(h.ws_url(sid="nope"), ws_handler)
        assert h.eio.sessions == {}


# =============================================================================
# message
# =============================================================================
class TestMessagePolling:
    def test_sends_and_receives_a_payload_containing_one_plain_text_packet(self, suite_server):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "4hello")
        assert (r.status_code, r.text) == (200, "ok")
        r = suite_server.poll(sid)
        assert (r.status_code, r.text) == (200, "4hello")
        assert suite_server.messages == [(sid, "hello")]

    def test_sends_and_receives_a_payload_containing_several_plain_text_packets(self, suite_server):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "4test1\x1e4test2\x1e4test3")
        assert (r.status_code, r.text) == (200, "ok")
        r = suite_server.poll(sid)
        assert (r.status_code, r.text) == (200, "4test1\x1e4test2\x1e4test3")
        assert [m for _, m in suite_server.messages] == ["test1", "test2", "test3"]

    def test_sends_and_receives_a_payload_containing_plain_text_and_binary_packets(self, suite_server):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "4hello\x1ebAQIDBA==")
        assert (r.status_code, r.text) == (200, "ok")
        r = suite_server.poll(sid)
        assert (r.status_code, r.text) == (200, "4hello\x1ebAQIDBA==")
        assert [m for _, m in suite_server.messages] == ["hello", b"\x01\x02\x03\x04"]

    def test_server_binary_is_sent_as_b_base64(self, suite_server):
        sid, _ = suite_server.handshake()
        suite_server.eio.send(sid, b"\x00\xff\x10")
        r = suite_server.poll(sid)
        assert r.text == "bAP8Q"

    @pytest.mark.parametrize("body", ["abc", "x", "", "4a\x1e\x1e4b", "bnot base64!", "7", "4ok\x1eq"])
    def test_closes_the_session_upon_invalid_packet_format(self, suite_server, body):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, body)
        assert r.status_code == 400
        r = suite_server.poll(sid)
        assert r.status_code == 400
        assert suite_server.wait_disconnect(sid) == "parse error"
        assert sid not in suite_server.eio.sessions

    def test_closes_the_session_upon_duplicate_poll_requests(self, suite_server):
        sid, _ = suite_server.handshake()
        first = gevent.spawn(suite_server.poll, sid)
        gevent.sleep(0.05)
        second = requests.get(suite_server.url(sid=sid, t="burst"), timeout=5)
        assert second.status_code in (400, 500)
        r1 = first.get(timeout=5)
        assert (r1.status_code, r1.text) == (200, "1")
        assert suite_server.poll(sid).status_code == 400
        assert suite_server.wait_disconnect(sid) == "transport error"

    def test_overlapping_posts_close_the_session(self, suite_server):
        """E4: a second POST while the first is still being read."""
        sid, _ = suite_server.handshake()

        def slow_body():
            yield b"4first"
            gevent.sleep(0.3)
            yield b"\x1e4end"

        first = gevent.spawn(requests.post, suite_server.url(sid=sid), data=slow_body(), timeout=5)
        gevent.sleep(0.1)
        r2 = suite_server.post(sid, "4second")
        assert r2.status_code == 400
        first.get(timeout=5)
        assert suite_server.poll(sid).status_code == 400

    def test_closes_the_session_upon_cancelled_polling_request(self, engine_server, ws_handler):
        # Long ping interval: the session must close because the GET was cancelled,
        # not because of a ping timeout.
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        import socket

        s = socket.create_connection(("127.0.0.1", h.port))
        s.sendall(f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{h.port}\r\n\r\n".encode())
        gevent.sleep(0.05)
        s.close()
        h.wait_disconnect(sid, timeout=2)
        assert h.poll(sid).status_code == 400


class TestMessageWebSocket:
    def test_sends_and_receives_a_plain_text_packet(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send("4hello")
            assert ws_next(ws) == "4hello"
            assert h.messages == [(value["sid"], "hello")]
        finally:
            ws_close(ws)

    def test_sends_and_receives_a_binary_packet(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send_binary(bytes([1, 2, 3, 4]))
            assert ws_next(ws) == bytes([1, 2, 3, 4])
            assert h.messages == [(value["sid"], b"\x01\x02\x03\x04")]
        finally:
            ws_close(ws)

    @pytest.mark.parametrize("text", ["abc", "x", "", "7", "4a\x1e\x1e4b"])
    def test_closes_the_session_upon_invalid_packet_format(self, engine_server, ws_handler, text):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send(text)
            seen, result = ws_until_close(ws)
            assert seen == []
            assert result == CLOSED or close_code(result) in (1002, 1007, 1008)
        finally:
            ws_close(ws)
        # closed at once (not at the next ping timeout), with a disconnect event
        assert h.wait_disconnect(value["sid"], timeout=2) == "parse error"

    def test_several_packets_in_one_text_frame(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send("4a\x1e4b\x1ebAQI=\x1e4c")
            assert [ws_next(ws) for _ in range(4)] == ["4a", "4b", b"\x01\x02", "4c"]
            assert [m for _, m in h.messages] == ["a", "b", b"\x01\x02", "c"]
        finally:
            ws_close(ws)

    def test_invalid_utf8_text_closes_with_1007(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send(b"4\xff\xfe", opcode=websocket.ABNF.OPCODE_TEXT)
            seen, result = ws_until_close(ws)
            assert close_code(result) == 1007
        finally:
            ws_close(ws)
        h.wait_disconnect(value["sid"])


# =============================================================================
# heartbeat
# =============================================================================
class TestHeartbeatPolling:
    def test_sends_ping_pong_packets(self, suite_server):
        sid, _ = suite_server.handshake()
        for _ in range(3):
            r = suite_server.poll(sid)
            assert (r.status_code, r.text) == (200, "2")
            r = suite_server.post(sid, "3")
            assert (r.status_code, r.text) == (200, "ok")
        assert sid in suite_server.eio.sessions

    def test_closes_the_session_upon_ping_timeout(self, suite_server):
        t0 = time.monotonic()
        sid, _ = suite_server.handshake()
        reason = suite_server.wait_disconnect(sid, timeout=0.5 + SLACK)
        elapsed = time.monotonic() - t0
        assert reason == "ping timeout"
        assert elapsed >= 0.45  # not before ping_interval + ping_timeout
        r = suite_server.poll(sid)
        assert r.status_code == 400


    def test_a_request_past_the_pong_deadline_finds_the_session_timed_out(self, engine_server):
        """The deadline holds when a request comes before its timer has run (a busy event
        loop runs timers late; the suite polls right at ping interval + ping timeout)."""
        h = engine_server(ping_interval=0.2, ping_timeout=0.2)
        sid, _ = h.handshake()
        assert h.poll(sid).text == "2"  # the PING: the PONG deadline is armed
        gevent.monkey.get_original("time", "sleep")(0.3)  # the loop is stuck past the deadline
        statuses = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/engine.io/",
                   "QUERY_STRING": f"EIO=4&transport=polling&sid={sid}"}
        # called directly, without yielding: the timer cannot have run
        h.eio.handle_request(environ, lambda status, headers: statuses.append(status))
        assert statuses[0].startswith("400")
        assert h.disconnects == [(sid, "ping timeout")]


class TestHeartbeatWebSocket:
    def test_sends_ping_pong_packets(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        ws, value = ws_open(h.ws_url())
        try:
            for _ in range(3):
                assert ws_next(ws) == "2"
                ws.send("3")
            assert value["sid"] in h.eio.sessions
        finally:
            ws_close(ws)

    def test_closes_the_session_upon_ping_timeout(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        t0 = time.monotonic()
        ws, value = ws_open(h.ws_url())
        try:
            seen, result = ws_until_close(ws)
            elapsed = time.monotonic() - t0
            assert seen == ["2"]
            assert 0.45 <= elapsed <= 0.5 + SLACK
        finally:
            ws_close(ws)
        assert h.wait_disconnect(value["sid"]) == "ping timeout"


# =============================================================================
# close
# =============================================================================
class TestClose:
    def test_polling_forcefully_closes_the_session(self, suite_server):
        """Client-initiated: a pending GET is released with a NOOP (the client sent the CLOSE)."""
        sid, _ = suite_server.handshake()
        pending = gevent.spawn(suite_server.poll, sid)
        gevent.sleep(0.05)
        r = suite_server.post(sid, "1")
        assert r.status_code == 200
        r = pending.get(timeout=5)
        assert (r.status_code, r.text) == (200, "6")
        assert suite_server.poll(sid).status_code == 400
        assert suite_server.wait_disconnect(sid) == "transport close"

    def test_polling_forcefully_closes_the_session_when_the_post_comes_first(self, suite_server):
        """The suite sends its GET and its POST ``1`` at once: the POST may be handled first.
        The GET still gets its NOOP, and only the GET after it an unknown sid."""
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "1")
        assert (r.status_code, r.text) == (200, "ok")
        assert suite_server.wait_disconnect(sid) == "transport close"
        assert not suite_server.eio.is_connected(sid)
        r = suite_server.poll(sid)
        assert (r.status_code, r.text) == (200, "6")
        r = suite_server.poll(sid)
        assert r.status_code == 400 and error_body(r)["code"] == 1
        assert suite_server.post(sid, "4late").status_code == 400

    def test_websocket_forcefully_closes_the_session(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send("1")
            seen, result = ws_until_close(ws)
            assert seen == []
        finally:
            ws_close(ws)
        assert h.wait_disconnect(value["sid"]) == "transport close"

    def test_server_disconnect_releases_a_pending_get_with_close(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        pending = gevent.spawn(h.poll, sid)
        gevent.sleep(0.05)
        h.eio.disconnect(sid)
        r = pending.get(timeout=5)
        assert (r.status_code, r.text) == (200, "1")
        assert h.wait_disconnect(sid) == "server disconnect"
        assert h.poll(sid).status_code == 400

    def test_server_disconnect_flushes_queued_packets_then_close(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        h.eio.send(sid, "bye")
        h.eio.disconnect(sid)
        # no GET was parked: the client's next GET still gets what was queued, then CLOSE
        # (regression: the sid used to be unknown at once, queued packets and CLOSE lost)
        assert not h.eio.is_connected(sid) and h.eio.sessions == {}
        assert h.wait_disconnect(sid) == "server disconnect"
        r = h.poll(sid)
        assert (r.status_code, r.text) == (200, "4bye\x1e1")
        assert h.poll(sid).status_code == 400
        assert h.post(sid, "4late").status_code == 400

    def test_server_disconnect_sends_websocket_close_frame(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        ws, value = ws_open(h.ws_url())
        try:
            h.eio.send(value["sid"], "last")
            h.eio.disconnect(value["sid"])
            seen, result = ws_until_close(ws)
            assert seen == ["4last"]
            assert close_code(result) == 1000
        finally:
            ws_close(ws)
        assert h.wait_disconnect(value["sid"]) == "server disconnect"


# =============================================================================
# upgrade
# =============================================================================
class TestUpgrade:
    def test_successfully_upgrades_from_http_long_polling_to_websocket(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        try:
            r = h.poll(sid)
            assert (r.status_code, r.text) == (200, "6")
            ws.send("5")
            ws.send("4hello")
            assert ws_next(ws) == "4hello"
            assert h.eio.transport(sid) == "websocket"
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_pending_get_is_released_with_noop_on_probe(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        pending = gevent.spawn(h.poll, sid)
        gevent.sleep(0.05)
        t0 = time.monotonic()
        ws = upgrade(h.ws_url(sid))
        try:
            r = pending.get(timeout=2)  # well before the 5 s ping interval
            assert (r.status_code, r.text) == (200, "6")
            assert time.monotonic() - t0 < 2
            ws.send("5")
            h.wait_for(lambda: h.eio.transport(sid) == "websocket", what="upgrade")
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_packets_sent_during_upgrade_arrive_once_in_order(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        h.eio.send(sid, "before")
        ws = upgrade(h.ws_url(sid))
        try:
            for i in range(5):
                h.eio.send(sid, f"m{i}")
            h.eio.send(sid, b"\x07\x08")
            r = h.poll(sid)  # the client's last GET before it sends "5"
            assert r.status_code == 200
            got = [s for s in r.text.split("\x1e") if s != "6"]
            ws.send("5")
            h.wait_for(lambda: h.eio.transport(sid) == "websocket", what="upgrade")
            for i in range(5, 8):
                h.eio.send(sid, f"m{i}")
            expected = ["4before"] + [f"4m{i}" for i in range(5)] + ["bBwg="] + [f"4m{i}" for i in range(5, 8)]
            while len(got) < len(expected):
                item = ws_next(ws)
                assert item != CLOSED
                got.append("b" + __import__("base64").b64encode(item).decode() if isinstance(item, bytes) else item)
            assert got == expected
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_ignores_http_requests_with_same_sid_after_upgrade(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        try:
            ws.send("5")
            h.wait_for(lambda: h.eio.transport(sid) == "websocket", what="upgrade")
            assert h.poll(sid).status_code == 400
            assert h.post(sid, "4sneaky").status_code == 400
            ws.send("4hello")
            item = ws_next(ws)
            while item == "2":
                ws.send("3")
                item = ws_next(ws)
            assert item == "4hello"
            assert [m for _, m in h.messages] == ["hello"]
            assert sid in h.eio.sessions
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_ignores_websocket_connection_with_same_sid_after_upgrade(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=0.3, ping_timeout=0.2)
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        try:
            ws.send("5")
            h.wait_for(lambda: h.eio.transport(sid) == "websocket", what="upgrade")
            assert_ws_accepted_then_closed(h.ws_url(sid))
            ws.send("4hello")
            item = ws_next(ws)
            while item == "2":
                ws.send("3")
                item = ws_next(ws)
            assert item == "4hello"
            assert sid in h.eio.sessions
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_second_websocket_during_upgrade_is_refused(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        try:
            assert_ws_accepted_then_closed(h.ws_url(sid))
            ws.send("5")
            ws.send("4still")
            assert ws_next(ws) == "4still"
        finally:
            ws_close(ws)
        h.wait_disconnect(sid)

    def test_probe_without_upgrade_times_out_and_polling_continues(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5, upgrade_timeout=0.3)
        sid, _ = h.handshake()
        ws = upgrade(h.ws_url(sid))
        try:
            seen, result = ws_until_close(ws)
            assert seen == []
        finally:
            ws_close(ws)
        assert sid in h.eio.sessions and h.eio.transport(sid) == "polling"
        assert h.post(sid, "4still polling").text == "ok"
        assert h.poll(sid).text == "4still polling"


# =============================================================================
# max payload
# =============================================================================
class TestMaxPayload:
    def test_post_over_the_cap_is_413_and_closes_the_session(self, suite_server):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "4" + "a" * 1_000_000)
        assert r.status_code == 413
        assert suite_server.poll(sid).status_code == 400
        suite_server.wait_disconnect(sid)

    def test_chunked_post_over_the_cap_is_413(self, suite_server):
        sid, _ = suite_server.handshake()

        def body():
            yield b"4"
            for _ in range(20):
                yield b"a" * 100_000

        r = requests.post(suite_server.url(sid=sid), data=body(), timeout=5)
        assert r.status_code == 413
        suite_server.wait_disconnect(sid)

    def test_post_at_the_cap_is_accepted(self, suite_server):
        sid, _ = suite_server.handshake()
        r = suite_server.post(sid, "4" + "a" * 999_999)
        assert (r.status_code, r.text) == (200, "ok")
        assert suite_server.messages[0][1] == "a" * 999_999

    def test_websocket_message_over_the_cap_closes_with_1009(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5, max_http_buffer_size=1_000_000)
        ws, value = ws_open(h.ws_url())
        try:
            ws.send("4" + "a" * 1_000_000)
            seen, result = ws_until_close(ws)
            assert close_code(result) == 1009
        finally:
            ws_close(ws)
        h.wait_disconnect(value["sid"])


# =============================================================================
# CORS / Origin (E16)
# =============================================================================
EVIL = "https://evil.example"


class TestOrigin:
    @pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1.evil.example"])
    def test_foreign_origin_refused_on_polling(self, suite_server, origin):
        r = requests.get(suite_server.url(), headers={"Origin": origin}, timeout=5)
        assert r.status_code == 403
        assert error_body(r)["code"] == 4
        assert "Access-Control-Allow-Origin" not in r.headers
        assert suite_server.eio.sessions == {}

    def test_foreign_origin_refused_on_polling_with_existing_sid(self, suite_server):
        sid, _ = suite_server.handshake()
        r = requests.post(suite_server.url(sid=sid), data="4x", headers={"Origin": EVIL}, timeout=5)
        assert r.status_code == 403
        assert suite_server.messages == []

    def test_same_origin_and_no_origin_allowed(self, suite_server):
        own = f"http://127.0.0.1:{suite_server.port}"
        r = requests.get(suite_server.url(), headers={"Origin": own}, timeout=5)
        assert r.status_code == 200
        assert r.headers["Access-Control-Allow-Origin"] == own
        r = requests.get(suite_server.url(), timeout=5)  # no Origin: not a browser
        assert r.status_code == 200
        assert "Access-Control-Allow-Origin" not in r.headers

    def test_forwarded_host_ignored_without_trusted_proxy(self, suite_server):
        r = requests.get(suite_server.url(), headers={"Origin": "http://evil", "X-Forwarded-Host": "evil"},
                         timeout=5)
        assert r.status_code == 403

    @pytest.mark.parametrize("origin", [EVIL, "null"])
    def test_foreign_origin_refused_on_websocket(self, engine_server, ws_handler, origin):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        assert_ws_refused(h.ws_url(), ws_handler, status=403, close=1008, origin=origin)
        assert h.eio.sessions == {} and h.connects == []

    def test_foreign_origin_refused_on_websocket_upgrade(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        assert_ws_refused(h.ws_url(sid), ws_handler, status=403, close=1008, origin=EVIL)
        assert h.eio.transport(sid) == "polling"

    def test_websocket_without_origin_allowed(self, engine_server, ws_handler):
        h = engine_server(ws_handler, ping_interval=5, ping_timeout=5)
        ws, value = ws_open(h.ws_url(), suppress_origin=True)
        ws_close(ws)
        h.wait_disconnect(value["sid"])

    def test_listed_origin_exact_match_only(self, engine_server):
        h = engine_server(cors_allowed_origins=["https://app.example.com"])
        ok = requests.get(h.url(), headers={"Origin": "https://app.example.com"}, timeout=5)
        assert ok.status_code == 200
        assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert ok.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in ok.headers.get("Vary", "")
        for bad in ("https://app.example.com.evil", "https://evil-app.example.com",
                    "http://app.example.com", "https://app.example.com:444", "null"):
            r = requests.get(h.url(), headers={"Origin": bad}, timeout=5)
            assert r.status_code == 403, bad
            assert "Access-Control-Allow-Origin" not in r.headers
        # own origin is not implicitly allowed once a list is given
        r = requests.get(h.url(), headers={"Origin": f"http://127.0.0.1:{h.port}"}, timeout=5)
        assert r.status_code == 403

    def test_listed_origin_on_websocket(self, engine_server, ws_handler):
        h = engine_server(ws_handler, cors_allowed_origins="https://app.example.com")
        ws, value = ws_open(h.ws_url(), origin="https://app.example.com")
        ws_close(ws)
        h.wait_disconnect(value["sid"])
        assert_ws_refused(h.ws_url(), ws_handler, status=403, close=1008, origin="https://app.example.com.evil")

    def test_wildcard_gives_star_without_credentials(self, engine_server):
        h = engine_server(cors_allowed_origins="*")
        r = requests.get(h.url(), headers={"Origin": EVIL}, timeout=5)
        assert r.status_code == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in r.headers

    def test_callable_policy(self, engine_server):
        h = engine_server(cors_allowed_origins=lambda o: o.endswith(".good.example"))
        assert requests.get(h.url(), headers={"Origin": "https://a.good.example"}, timeout=5).status_code == 200
        assert requests.get(h.url(), headers={"Origin": EVIL}, timeout=5).status_code == 403

    def test_preflight_options(self, engine_server):
        h = engine_server(cors_allowed_origins=["https://app.example.com"])
        r = requests.options(h.url(), headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }, timeout=5)
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert r.headers["Access-Control-Allow-Headers"] == "content-type"
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        bad = requests.options(h.url(), headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
                               timeout=5)
        assert bad.status_code == 403
        assert "Access-Control-Allow-Origin" not in bad.headers
        # a header list with CRLF is never reflected
        r = requests.options(h.url(), headers={"Origin": "https://app.example.com",
                                               "Access-Control-Request-Headers": "x<script>"}, timeout=5)
        assert "Access-Control-Allow-Headers" not in r.headers
        assert h.eio.sessions == {}


# =============================================================================
# cookie, allow_request
# =============================================================================
class TestCookieAndAllowRequest:
    def test_cookie_off_by_default(self, suite_server):
        r = requests.get(suite_server.url(), timeout=5)
        assert "Set-Cookie" not in r.headers

    def test_cookie_httponly_samesite_lax_when_on(self, engine_server):
        h = engine_server(cookie="io")
        r = requests.get(h.url(), timeout=5)
        sid = json.loads(r.text[1:])["sid"]
        cookie = r.headers["Set-Cookie"]
        parts = [p.strip() for p in cookie.split(";")]
        assert parts[0] == f"io={sid}"
        assert "HttpOnly" in parts
        assert "SameSite=Lax" in parts
        assert "Path=/" in parts
        assert "Secure" not in parts  # plain http

    def test_allow_request_hook(self, engine_server, ws_handler):
        seen = []

        def allow(environ):
            seen.append(environ.get("HTTP_X_TOKEN"))
            return environ.get("HTTP_X_TOKEN") == "good"

        h = engine_server(ws_handler, allow_request=allow)
        r = requests.get(h.url(), headers={"X-Token": "bad"}, timeout=5)
        assert r.status_code == 403
        assert error_body(r)["code"] == 4
        assert h.eio.sessions == {} and h.connects == []
        assert_ws_refused(h.ws_url(), ws_handler, status=403, close=1008, header=["X-Token: bad"])
        assert h.eio.sessions == {} and h.connects == []
        r = requests.get(h.url(), headers={"X-Token": "good"}, timeout=5)
        assert r.status_code == 200
        sid = json.loads(r.text[1:])["sid"]
        # the hook runs before the handshake only, not on every request of a session
        n = len(seen)
        assert h.post(sid, "4x").text == "ok"
        assert len(seen) == n
        assert seen[:2] == ["bad", "bad"]

    def test_allow_request_hook_raising_refuses(self, engine_server):
        def allow(environ):
            raise RuntimeError("boom")

        h = engine_server(allow_request=allow)
        r = requests.get(h.url(), timeout=5)
        assert r.status_code == 403
        assert h.eio.sessions == {}

    def test_connect_handler_refusal(self, engine_server):
        h = engine_server()
        h.eio.on("connect", lambda sid, environ: False)
        r = requests.get(h.url(), timeout=5)
        assert r.status_code == 403
        assert h.eio.sessions == {}


# =============================================================================
# JSONP, compression
# =============================================================================
class TestJsonp:
    def test_jsonp_polling(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        r = requests.get(h.url(j="0"), timeout=5)
        assert r.status_code == 200
        assert r.text.startswith('___eio[0]("0{') and r.text.endswith('");')
        assert r.headers["Content-Type"].startswith("text/javascript")
        sid = json.loads(json.loads(r.text[len("___eio[0]("):-2])[1:])["sid"]
        # POST is a form with d=<payload>; escaped newlines are restored
        r = requests.post(h.url(sid=sid, j="0"), data={"d": "4line1\\nline2"}, timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        assert h.messages == [(sid, "line1\nline2")]
        r = requests.get(h.url(sid=sid, j="0"), timeout=5)
        assert r.text == '___eio[0]("4line1\\nline2");'

    def test_jsonp_escaping(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        h.eio.send(sid, '</script><script>alert(1)</script>\u2028\u2029"')
        r = requests.get(h.url(sid=sid, j="3"), timeout=5)
        raw = r.content
        assert raw.startswith(b"___eio[3](")
        assert b"</script" not in raw.lower()
        assert "\u2028".encode() not in raw and "\u2029".encode() not in raw
        # it still decodes to the same payload
        assert json.loads(raw[len(b"___eio[3]("):-2].decode()) == '4</script><script>alert(1)</script>\u2028\u2029"'

    @pytest.mark.parametrize("j", ["abc", "-1", "0);alert(1);//", "1e3"])
    def test_jsonp_bad_index_never_reflected(self, engine_server, j):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        r = requests.get(h.base + f"?EIO=4&transport=polling&sid={sid}&j={requests.utils.quote(j)}", timeout=5)
        assert r.status_code == 400
        assert "alert" not in r.text

    def test_jsonp_bad_index_is_refused_at_once_and_loses_nothing(self, engine_server):
        # regression: the index used to be checked after the GET had waited (up to the
        # ping interval) and taken the queued packets, which were then lost
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        t0 = time.monotonic()
        r = requests.get(h.url(sid=sid, j="x"), timeout=5)
        assert r.status_code == 400 and time.monotonic() - t0 < 2
        h.eio.send(sid, "keep")
        assert requests.get(h.url(sid=sid, j="x"), timeout=5).status_code == 400
        assert h.poll(sid).text == "4keep"

    def test_jsonp_handshake_with_bad_index_creates_no_session(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        r = requests.get(h.url(j="nope"), timeout=5)
        assert r.status_code == 400
        assert h.eio.sessions == {} and h.connects == []


class TestCompression:
    def test_gzip_over_threshold(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        big = "x" * 5000
        h.eio.send(sid, big)
        r = requests.get(h.url(sid=sid), headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
        assert r.headers["Content-Encoding"] == "gzip"
        raw = r.raw.read()
        assert len(raw) < 1000
        assert gzip.decompress(raw).decode() == "4" + big
        assert int(r.headers["Content-Length"]) == len(raw)

    def test_deflate_over_threshold(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        h.eio.send(sid, "y" * 5000)
        r = requests.get(h.url(sid=sid), headers={"Accept-Encoding": "deflate"}, timeout=5, stream=True)
        assert r.headers["Content-Encoding"] == "deflate"
        assert zlib.decompress(r.raw.read()).decode() == "4" + "y" * 5000

    def test_no_compression_under_threshold_or_unaccepted(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5)
        sid, _ = h.handshake()
        h.eio.send(sid, "small")
        r = requests.get(h.url(sid=sid), headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert "Content-Encoding" not in r.headers and r.text == "4small"
        h.eio.send(sid, "z" * 5000)
        r = requests.get(h.url(sid=sid), headers={"Accept-Encoding": "identity"}, timeout=5)
        assert "Content-Encoding" not in r.headers and r.text == "4" + "z" * 5000

    def test_compression_can_be_disabled(self, engine_server):
        h = engine_server(ping_interval=5, ping_timeout=5, http_compression=False)
        sid, _ = h.handshake()
        h.eio.send(sid, "x" * 5000)
        r = requests.get(h.url(sid=sid), headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert "Content-Encoding" not in r.headers


# =============================================================================
# E6, E18
# =============================================================================
class TestBadInputs:
    def test_octet_stream_post_is_400_and_completes(self, suite_server):
        """E6 (CVE-2026-59725): the response completes every time, no fd is left."""
        for _ in range(20):
            sid, _ = suite_server.handshake()
            r = requests.post(suite_server.url(sid=sid), data=b"\x00\x01binary",
                              headers={"Content-Type": "application/octet-stream"}, timeout=3)
            assert r.status_code == 400
            assert error_body(r)["code"] == 3
        # over one keep-alive connection too: the unread body must not be parsed as a request
        with requests.Session() as s:
            sid = json.loads(s.get(suite_server.url(), timeout=3).text[1:])["sid"]
            r = s.post(suite_server.url(sid=sid), data=b"GET /evil HTTP/1.1\r\n\r\n",
                       headers={"Content-Type": "application/octet-stream"}, timeout=3)
            assert r.status_code == 400
            r = s.get(suite_server.url(), timeout=3)
            assert r.status_code == 200

    @pytest.mark.parametrize("query", [
        "EIO=<script>alert(1)</script>&transport=polling",
        "EIO=4&transport=<img src=x onerror=alert(1)>",
        "EIO=4&transport=polling&sid=<script>alert(1)</script>",
        "EIO=4&transport=polling%0d%0aX-Injected:%201",
        "EIO=4&transport=polling&sid=abc%0d%0aX-Injected:%201",
    ])
    def test_html_and_crlf_in_query_never_reflected(self, suite_server, query):
        r = requests.get(suite_server.base + "?" + query, timeout=5)
        assert r.status_code == 400
        assert "<" not in r.text and "alert" not in r.text
        assert "X-Injected" not in r.headers
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Content-Type"] == "application/json"

    def test_crlf_in_raw_request_line(self, suite_server):
        raw = raw_http(suite_server.port,
                       b"GET /engine.io/?EIO=4&transport=pol\rling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"X-Injected" not in raw
        assert raw.startswith(b"HTTP/1.1 400")
