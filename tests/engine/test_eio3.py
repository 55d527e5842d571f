"""Engine.IO v3 sessions (``allow_eio3=True``) on the wire, with raw HTTP and WebSocket peers.

What socket.io-client 2.x in Node cannot show: it always polls with ``b64=1``,
so the binary polling framing is driven here byte by byte (the codec itself is
checked against Node's engine.io-parser 2.2 in tests/unit/protocol/test_engineio_v3.py).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Tuple

import gevent
import pytest

from eio_helpers import ws_close, ws_connect, ws_next
from siothread.protocol import engineio_v3 as v3
from siothread.protocol.engineio import Packet, PacketType
from tests.support.engine_harness import EngineHarness

M = PacketType.MESSAGE


@pytest.fixture
def v3_server(engine_server: Callable[..., EngineHarness]) -> EngineHarness:
    return engine_server(allow_eio3=True, ping_interval=0.3, ping_timeout=0.2)


def url(h: EngineHarness, sid: str = "", transport: str = "polling", **extra: str) -> str:
    query = f"EIO=3&transport={transport}" + (f"&sid={sid}" if sid else "")
    query += "".join(f"&{k}={v}" for k, v in extra.items())
    return (h.ws_base if transport == "websocket" else h.base) + "?" + query


def handshake(h: EngineHarness) -> Tuple[str, dict]:
    r = h.http.get(url(h), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    [packet] = v3.decode_payload(r.text)
    assert packet.type is PacketType.OPEN
    data = json.loads(packet.data)
    assert data["pingInterval"] == 300 and data["pingTimeout"] == 200 and data["upgrades"] == ["websocket"]
    return data["sid"], data


def test_polling_text_and_binary_framing(v3_server: EngineHarness) -> None:
    h = v3_server
    sid, _ = handshake(h)
    assert h.http.post(url(h, sid), data=v3.encode_text_payload([Packet(M, "😀 hi")]).encode(),
                       timeout=5).text == "ok"
    body = v3.encode_binary_payload([Packet(M, b"\x00\xff"), Packet(M, "é")])
    r = h.http.post(url(h, sid), data=body, headers={"Content-Type": "application/octet-stream"}, timeout=5)
    assert r.text == "ok"
    h.wait_for(lambda: len(h.messages) == 3, what="three messages")
    assert [m for _, m in h.messages] == ["😀 hi", b"\x00\xff", "é"]
    # the echoes: binary framing, since one is binary and the client did not ask for b64
    r = h.http.get(url(h, sid), timeout=5)
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert v3.decode_payload(r.content, binary=True) == [Packet(M, "😀 hi"), Packet(M, b"\x00\xff"), Packet(M, "é")]
    # b64=1: text framing, binary as b4<base64>
    h.http.post(url(h, sid), data=v3.encode_text_payload([Packet(M, b"\x01")]), timeout=5)
    h.wait_for(lambda: len(h.messages) == 4, what="a fourth message")
    r = h.http.get(url(h, sid, b64="1"), timeout=5)
    assert r.text == "6:b4AQ=="


def test_client_pings_keep_the_session_and_get_pongs(v3_server: EngineHarness) -> None:
    h = v3_server
    sid, _ = handshake(h)
    for _ in range(4):  # 4 x 0.2 s: past ping_interval + ping_timeout (0.5 s) without a server PING
        assert h.http.post(url(h, sid), data="1:2", timeout=5).text == "ok"
        assert h.http.get(url(h, sid), timeout=5).text == "1:3"
        gevent.sleep(0.2)
    assert h.eio.is_connected(sid) and h.eio.protocol(sid) == 3
    # no PING within ping_interval + ping_timeout: closed
    assert h.wait_disconnect(sid, timeout=3) == "ping timeout"


def test_requests_must_keep_the_session_protocol(v3_server: EngineHarness) -> None:
    h = v3_server
    sid, _ = handshake(h)
    r = h.http.get(h.url(sid=sid), timeout=5)  # EIO=4 for a v3 session
    assert r.status_code == 400
    assert h.eio.is_connected(sid)


def test_malformed_v3_payload_closes_the_session(v3_server: EngineHarness) -> None:
    h = v3_server
    sid, _ = handshake(h)
    r = h.http.post(url(h, sid), data="9:4x", timeout=5)
    assert r.status_code == 400
    assert h.wait_disconnect(sid) == "parse error"


def test_refused_unless_allowed(engine_server: Callable[..., EngineHarness]) -> None:
    h = engine_server()
    r = h.http.get(url(h), timeout=5)
    assert r.status_code == 400 and r.json() == {"code": 5, "message": "Unsupported protocol version"}
    assert not h.connects


def _ws(h: EngineHarness, sid: str = "") -> Any:
    return ws_connect(url(h, sid, "websocket"))


def test_websocket_binary_has_its_type_byte(v3_server: EngineHarness) -> None:
    h = v3_server
    ws = _ws(h)
    try:
        opened = ws_next(ws)
        assert opened.startswith("0") and "sid" in json.loads(opened[1:])
        ws.send("2")
        assert ws_next(ws) == "3"
        ws.send_binary(b"\x04xyz")
        assert ws_next(ws) == b"\x04xyz"
        h.wait_for(lambda: h.messages, what="a message")
        assert h.messages[-1][1] == b"xyz"
        ws.send_binary(b"\x02no")  # binary without the MESSAGE type byte
        assert ws_next(ws)[0] == "close"
    finally:
        ws_close(ws)


def test_upgrade_keeps_v3_framing(v3_server: EngineHarness) -> None:
    h = v3_server
    sid, _ = handshake(h)
    h.echo = False
    h.eio.send(sid, b"\x07")  # queued on polling, delivered over the WebSocket after the upgrade
    ws = _ws(h, sid)
    try:
        ws.send("2probe")
        assert ws_next(ws) == "3probe"
        ws.send("5")
        assert ws_next(ws) == b"\x04\x07"
        h.echo = True
        ws.send("4text")
        assert ws_next(ws) == "4text"
        assert h.eio.transport(sid) == "websocket"
    finally:
        ws_close(ws)


def test_jsonp_polling(v3_server: EngineHarness) -> None:
    h = v3_server
    r = h.http.get(url(h, j="0"), timeout=5)
    assert r.text.startswith('___eio[0]("') and r.headers["Content-Type"].startswith("text/javascript")
    [packet] = v3.decode_payload(json.loads(r.text[len("___eio[0]("):-2]))
    sid = json.loads(packet.data)["sid"]
    r = h.http.post(url(h, sid, j="0"), data={"d": "6:4hello"}, timeout=5)
    assert r.text == "ok"
    h.wait_for(lambda: h.messages, what="a message")
    assert h.messages[-1] == (sid, "hello")
    r = h.http.get(url(h, sid, j="0"), timeout=5)
    assert r.text == '___eio[0]("6:4hello");'
