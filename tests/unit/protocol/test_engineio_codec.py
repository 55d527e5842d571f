"""siothread.protocol.engineio: spec tables and hypothesis properties (row C1, C3 for Engine.IO).

Wire strings from engine.io-protocol v4 "Packet encoding" / "Payload encoding".
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siothread.errors import CloseCode, EngineErrorCode, RemoteProtocolError
from siothread.protocol.engineio import (
    DEFAULT_MAX_PACKETS_PER_PAYLOAD,
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    decode_ws_text,
    encode_packet,
    encode_payload,
    open_packet_data,
)

T = PacketType
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODE = {
    "open": (Packet(T.OPEN, '{"sid":"lv_VI97HAXpY6yYWAAAC"}'), '0{"sid":"lv_VI97HAXpY6yYWAAAC"}'),
    "close": (Packet(T.CLOSE), "1"),
    "ping": (Packet(T.PING), "2"),
    "ping_probe": (Packet(T.PING, "probe"), "2probe"),
    "pong_probe": (Packet(T.PONG, "probe"), "3probe"),
    "message_text": (Packet(T.MESSAGE, "hello"), "4hello"),
    "message_sio": (Packet(T.MESSAGE, '2["hey","Jude"]'), '42["hey","Jude"]'),
    "message_binary": (Packet(T.MESSAGE, b"\x01\x02\x03\x04"), b"\x01\x02\x03\x04"),
    "message_bytearray": (Packet(T.MESSAGE, bytearray(b"\x00")), b"\x00"),
    "upgrade": (Packet(T.UPGRADE), "5"),
    "noop": (Packet(T.NOOP), "6"),
}


@pytest.mark.parametrize("packet, wire", list(ENCODE.values()), ids=list(ENCODE))
def test_encode_packet(packet: Packet, wire: Union[str, bytes]) -> None:
    out = encode_packet(packet)
    assert out == wire and type(out) is type(wire)
    assert decode_packet(out) == packet


def test_binary_only_in_message_packets() -> None:
    with pytest.raises(ValueError):
        encode_packet(Packet(T.PING, b"x"))
    with pytest.raises(ValueError):
        encode_payload([Packet(T.PONG, b"x")])


def test_empty_message_reads_back_without_data_like_engine_io_parser() -> None:
    # engine.io-parser decodePacket gives no data for a one-character packet.
    assert encode_packet(Packet(T.MESSAGE, "")) == "4"
    assert decode_packet("4") == Packet(T.MESSAGE, None)


PAYLOADS = {
    "two_text": ([Packet(T.MESSAGE, "hello"), Packet(T.MESSAGE, "\u20ac")], "4hello\x1e4\u20ac"),
    "text_and_binary": ([Packet(T.MESSAGE, "\u20ac"), Packet(T.MESSAGE, b"\x01\x02\x03\x04")], "4\u20ac\x1ebAQIDBA=="),
    "sample_session": (
        [Packet(T.MESSAGE, '2["hello"]'), Packet(T.MESSAGE, '2["world"]')],
        '42["hello"]\x1e42["world"]',
    ),
    "ping": ([Packet(T.PING)], "2"),
    "empty_binary": ([Packet(T.MESSAGE, b"")], "b"),
}


@pytest.mark.parametrize("packets, body", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_payloads(packets: List[Packet], body: str) -> None:
    assert encode_payload(packets) == body
    assert decode_payload(body) == packets
    assert decode_payload(body.encode("utf-8")) == packets
    assert decode_payload(memoryview(body.encode("utf-8"))) == packets


def test_decode_ws_text_batches() -> None:
    assert decode_ws_text("4hello") == [Packet(T.MESSAGE, "hello")]
    assert decode_ws_text("4a\x1e3") == [Packet(T.MESSAGE, "a"), Packet(T.PONG)]
    with pytest.raises(RemoteProtocolError):
        decode_ws_text("\x1e".join(["4x"] * 3), max_packets=2)


def test_decode_packet_from_bytes_like() -> None:
    assert decode_packet(bytearray(b"\x01")) == Packet(T.MESSAGE, b"\x01")
    assert decode_packet(memoryview(b"\x02")) == Packet(T.MESSAGE, b"\x02")
    assert type(decode_packet(bytearray(b"\x01")).data) is bytes


@pytest.mark.parametrize("bad", ["", "7", "x", "-1", " 4"])
def test_decode_packet_rejects(bad: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_packet(bad)
    assert info.value.engine_code is EngineErrorCode.BAD_REQUEST
    assert info.value.close_code == CloseCode.PROTOCOL_ERROR


@pytest.mark.parametrize("bad", [None, 4, ["4"], object()])
def test_decode_packet_rejects_other_types(bad: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(bad)


def test_packet_count_limit() -> None:
    body = SEPARATOR.join(["4x"] * DEFAULT_MAX_PACKETS_PER_PAYLOAD)
    assert len(decode_payload(body)) == DEFAULT_MAX_PACKETS_PER_PAYLOAD
    with pytest.raises(RemoteProtocolError, match="too many"):
        decode_payload(body + SEPARATOR + "4x")
    with pytest.raises(RemoteProtocolError, match="too many"):
        decode_payload(SEPARATOR * 5_000_000)  # counted before splitting


def test_open_packet_data() -> None:
    data = json.loads(open_packet_data("abc", ["websocket"], 25, 20, 1_000_000))
    assert data == {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 1000000,
    }
    assert json.loads(open_packet_data("s", [], 0.3, 0.2, 10))["pingInterval"] == 300


def test_packet_binary_property() -> None:
    assert Packet(T.MESSAGE, b"x").binary
    assert not Packet(T.MESSAGE, "x").binary
    assert not Packet(T.PING).binary


# --------------------------------------------------------------------------- C1 properties

text_data = st.text(min_size=1, max_size=40)
payload_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=SEPARATOR), min_size=1, max_size=40
)


@st.composite
def packets(draw: st.DrawFn, data: st.SearchStrategy[str] = text_data, binary: bool = True) -> Packet:
    ptype = draw(st.sampled_from(list(PacketType)))
    if ptype is T.MESSAGE and binary and draw(st.booleans()):
        return Packet(ptype, draw(st.binary(max_size=40)))
    return Packet(ptype, draw(st.none() | data))


@PROPERTY
@given(packets())
def test_packet_round_trip(packet: Packet) -> None:
    assert decode_packet(encode_packet(packet)) == packet


@PROPERTY
@given(st.lists(packets(payload_text), min_size=1, max_size=16))
def test_payload_round_trip(items: List[Packet]) -> None:
    body = encode_payload(items)
    assert decode_payload(body) == items
    assert decode_payload(body.encode("utf-8")) == items


@PROPERTY
@given(st.lists(packets(payload_text, binary=False), min_size=1, max_size=16))
def test_ws_text_batch_round_trip(items: List[Packet]) -> None:
    assert decode_ws_text(encode_payload(items)) == items


def _parse_or_reject(call: Any, body: Any) -> Optional[object]:
    try:
        return call(body)
    except RemoteProtocolError:
        return None


@FUZZ
@given(st.text() | st.lists(st.sampled_from(["4", "b", "2", "\x1e", "AQID", "=", "probe", "7", ""])).map("".join))
def test_text_parses_or_is_rejected(body: str) -> None:
    for call in (decode_packet, decode_payload, decode_ws_text):
        result = _parse_or_reject(call, body)
        if isinstance(result, list):
            assert all(isinstance(p, Packet) and isinstance(p.type, PacketType) for p in result)


@FUZZ
@given(st.binary())
def test_bytes_parse_or_are_rejected(body: bytes) -> None:
    assert decode_packet(body) == Packet(T.MESSAGE, body)
    _parse_or_reject(decode_payload, body)
