"""siothread.protocol.socketio: table tests from the Socket.IO v5 spec and socket.io-parser.

Wire strings are those of socket.io-protocol v5 "Packet encoding" / "Sample
session" and of the v5 protocol test suite (without the Engine.IO ``4``).
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Union

import pytest

from siothread.errors import CloseCode, LocalProtocolError, RemoteProtocolError
from siothread.protocol.socketio import (
    MAX_ACK_ID,
    RESERVED_EVENTS,
    Decoder,
    Limits,
    Packet,
    PacketType,
    connect_error_data,
    decode,
    encode,
)

T = PacketType
PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'


def feed_all(decoder: Decoder, messages: List[Union[str, bytes]]) -> Optional[Packet]:
    """Feed every message; all but the last must leave the packet pending."""
    result = None
    for index, message in enumerate(messages):
        result = decoder.feed(message)
        if index < len(messages) - 1:
            assert result is None and decoder.awaiting_attachments
    assert not decoder.awaiting_attachments
    return result


# ----------------------------------------------------------------------- encode

ENCODE = {
    "connect_main": (Packet(T.CONNECT), ["0"]),
    "connect_custom_sid": (
        Packet(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
    ),
    "connect_error": (
        Packet(T.CONNECT_ERROR, "/", {"message": "Not authorized"}),
        ['4{"message":"Not authorized"}'],
    ),
    "connect_error_custom": (
        Packet(T.CONNECT_ERROR, "/random", {"message": "Invalid namespace"}),
        ['4/random,{"message":"Invalid namespace"}'],
    ),
    "event_main": (Packet(T.EVENT, "/", ["foo"]), ['2["foo"]']),
    "event_custom": (Packet(T.EVENT, "/admin", ["bar"]), ['2/admin,["bar"]']),
    "event_sample": (Packet(T.EVENT, "/", ["hey", "Jude"]), ['2["hey","Jude"]']),
    "event_binary": (
        Packet(T.EVENT, "/", ["baz", b"\x01\x02\x03\x04"]),
        ['51-["baz",' + PH0 + "]", b"\x01\x02\x03\x04"],
    ),
    "event_binary_two": (
        Packet(T.BINARY_EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
        ['52-/admin,["baz",' + PH0 + "," + PH1 + "]", b"\x01\x02", b"\x03\x04"],
    ),
    "event_ack_id": (Packet(T.EVENT, "/", ["foo"], 12), ['212["foo"]']),
    "event_ack_id_custom": (Packet(T.EVENT, "/admin", ["tellme"], 1), ['2/admin,1["tellme"]']),
    "ack_custom": (Packet(T.ACK, "/admin", ["bar"], 13), ['3/admin,13["bar"]']),
    "ack_empty": (Packet(T.ACK, "/", [], 12), ["312[]"]),
    "ack_binary": (
        Packet(T.ACK, "/", ["bar", b"\x01\x02\x03\x04"], 15),
        ['61-15["bar",' + PH0 + "]", b"\x01\x02\x03\x04"],
    ),
    "ack_binary_sample": (
        Packet(T.BINARY_ACK, "/admin", [b"\xff"], 1),
        ["61-/admin,1[" + PH0 + "]", b"\xff"],
    ),
    "binary_type_without_binary": (Packet(T.BINARY_EVENT, "/", ["x"]), ['2["x"]']),
    "disconnect_main": (Packet(T.DISCONNECT), ["1"]),
    "disconnect_custom": (Packet(T.DISCONNECT, "/admin"), ["1/admin,"]),
    "max_ack_id": (Packet(T.ACK, "/", [], MAX_ACK_ID), ["3%d[]" % MAX_ACK_ID]),
    "tuple_as_list": (Packet(T.EVENT, "/", ("a", (1, 2))), ['2["a",[1,2]]']),
    "non_ascii_raw": (Packet(T.EVENT, "/", ["caf\u00e9", "\U0001F600"]), ['2["caf\u00e9","\U0001F600"]']),
    "control_chars_escaped": (Packet(T.EVENT, "/", ["a\x1eb"]), ['2["a\\u001eb"]']),
    "nested_binary_order": (
        Packet(T.EVENT, "/", ["e", {"a": [b"0", {"b": b"1"}]}, bytearray(b"2"), memoryview(b"3")]),
        [
            '54-["e",{"a":[' + PH0 + ',{"b":' + PH1 + '}]},{"_placeholder":true,"num":2},'
            '{"_placeholder":true,"num":3}]',
            b"0",
            b"1",
            b"2",
            b"3",
        ],
    ),
}


@pytest.mark.parametrize("packet, wire", list(ENCODE.values()), ids=list(ENCODE))
def test_encode(packet: Packet, wire: List[Union[str, bytes]]) -> None:
    out = encode(packet)
    assert out == wire
    assert all(type(part) is bytes for part in out[1:])


def test_encode_lone_surrogate_is_escaped_so_the_text_encodes_as_utf8() -> None:
    (text,) = encode(Packet(T.EVENT, "/", ["ev", "\ud800", "\u00e9"]))
    assert text == '2["ev","\\ud800","\\u00e9"]'
    text.encode("utf-8")


def test_encode_with_custom_dumps_never_sees_bytes() -> None:
    seen: List[Any] = []

    def dumps(obj: Any) -> str:
        seen.append(obj)
        return json.dumps(obj, separators=(", ", ": "))

    out = encode(Packet(T.EVENT, "/x", ["a", b"\x00"], 7), dumps=dumps)
    assert out == ['51-/x,7["a", {"_placeholder": true, "num": 0}]', b"\x00"]
    assert seen == [["a", {"_placeholder": True, "num": 0}]]
    assert encode(Packet(T.EVENT, "/", ["a"]), dumps=lambda o: "[\"b\"]") == ['2["b"]']


BAD_OUTGOING = {
    "namespace_no_slash": Packet(T.EVENT, "admin", ["x"]),
    "namespace_empty": Packet(T.EVENT, "", ["x"]),
    "namespace_comma": Packet(T.EVENT, "/a,b", ["x"]),
    "namespace_control": Packet(T.EVENT, "/a\x1eb", ["x"]),
    "namespace_not_str": Packet(T.EVENT, b"/a", ["x"]),  # type: ignore[arg-type]
    "event_no_data": Packet(T.EVENT, "/", None),
    "event_empty": Packet(T.EVENT, "/", []),
    "event_name_int": Packet(T.EVENT, "/", [1]),
    "event_name_empty": Packet(T.EVENT, "/", [""]),
    "event_data_dict": Packet(T.EVENT, "/", {"a": 1}),
    "ack_without_id": Packet(T.ACK, "/", []),
    "ack_data_dict": Packet(T.ACK, "/", {}, 1),
    "id_negative": Packet(T.EVENT, "/", ["x"], -1),
    "id_bool": Packet(T.EVENT, "/", ["x"], True),
    "id_too_big": Packet(T.EVENT, "/", ["x"], MAX_ACK_ID + 1),
    "id_str": Packet(T.EVENT, "/", ["x"], "1"),  # type: ignore[arg-type]
    "id_on_connect": Packet(T.CONNECT, "/", None, 1),
    "connect_list": Packet(T.CONNECT, "/", []),
    "disconnect_data": Packet(T.DISCONNECT, "/", {}),
    "connect_error_none": Packet(T.CONNECT_ERROR, "/", None),
    "connect_error_list": Packet(T.CONNECT_ERROR, "/", ["x"]),
    "binary_in_connect": Packet(T.CONNECT, "/", {"token": b"x"}),
    "binary_in_connect_error": Packet(T.CONNECT_ERROR, "/", {"message": "m", "data": b"x"}),
    "unknown_type": Packet(7, "/", ["x"]),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("packet", list(BAD_OUTGOING.values()), ids=list(BAD_OUTGOING))
def test_encode_refuses_packets_the_peer_could_not_decode(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        encode(packet)


@pytest.mark.parametrize(
    "value, error", [(object(), TypeError), (float("nan"), ValueError), (float("inf"), ValueError)]
)
def test_encode_unserializable_data(value: Any, error: type) -> None:
    with pytest.raises(error):
        encode(Packet(T.EVENT, "/", ["x", value]))
    with pytest.raises(error):
        encode(Packet(T.EVENT, "/", ["x", b"bin", value]))


# ----------------------------------------------------------------------- decode

DECODE_SERVER = {
    "connect_main": (["0"], Packet(T.CONNECT)),
    "connect_auth": (['0{"token":"123"}'], Packet(T.CONNECT, "/", {"token": "123"})),
    "connect_custom_trailing_comma": (["0/custom,"], Packet(T.CONNECT, "/custom")),
    "connect_custom_no_comma": (["0/random"], Packet(T.CONNECT, "/random")),
    "connect_custom_auth": (['0/custom,{"token":"abc"}'], Packet(T.CONNECT, "/custom", {"token": "abc"})),
    "connect_explicit_main": (["0/,"], Packet(T.CONNECT)),
    "disconnect_main": (["1"], Packet(T.DISCONNECT)),
    "disconnect_custom": (["1/custom"], Packet(T.DISCONNECT, "/custom")),
    "disconnect_custom_comma": (["1/admin,"], Packet(T.DISCONNECT, "/admin")),
    "event": (['2["message",1,"2",{"3":[true]}]'], Packet(T.EVENT, "/", ["message", 1, "2", {"3": [True]}])),
    "event_custom": (['2/admin,["bar"]'], Packet(T.EVENT, "/admin", ["bar"])),
    "event_ack": (['2456["message-with-ack",1,"2"]'], Packet(T.EVENT, "/", ["message-with-ack", 1, "2"], 456)),
    "event_ack_custom": (['2/admin,1["tellme"]'], Packet(T.EVENT, "/admin", ["tellme"], 1)),
    "event_ack_zero": (['20["x"]'], Packet(T.EVENT, "/", ["x"], 0)),
    "event_ack_leading_zeros": (['2007["x"]'], Packet(T.EVENT, "/", ["x"], 7)),
    "event_ack_max": (['2%d["x"]' % MAX_ACK_ID], Packet(T.EVENT, "/", ["x"], MAX_ACK_ID)),
    "event_whitespace_json": ([' 2["x"]'.strip() + " "], Packet(T.EVENT, "/", ["x"])),
    "ack": (['3/admin,13["bar"]'], Packet(T.ACK, "/admin", ["bar"], 13)),
    "ack_empty": (["312[]"], Packet(T.ACK, "/", [], 12)),
    "binary_event": (
        ['52-["message",' + PH0 + "," + PH1 + "]", b"\x01\x02\x03", b"\x04\x05\x06"],
        Packet(T.EVENT, "/", ["message", b"\x01\x02\x03", b"\x04\x05\x06"]),
    ),
    "binary_event_custom_ack": (
        ['52-/admin,9["m",{"a":[' + PH1 + "]}," + PH0 + "]", b"A", b"B"],
        Packet(T.EVENT, "/admin", ["m", {"a": [b"B"]}, b"A"], 9),
    ),
    "binary_ack": (
        ['61-15["bar",' + PH0 + "]", b"\x01\x02\x03\x04"],
        Packet(T.ACK, "/", ["bar", b"\x01\x02\x03\x04"], 15),
    ),
    "binary_leading_zero_count": (['501-["x",' + PH0 + "]", b""], Packet(T.EVENT, "/", ["x", b""])),
    "binary_unused_attachment": (['52-["x",' + PH1 + "]", b"a", b"b"], Packet(T.EVENT, "/", ["x", b"b"])),
    "binary_placeholder_reused": (['51-["x",' + PH0 + "," + PH0 + "]", b"a"], Packet(T.EVENT, "/", ["x", b"a", b"a"])),
    "binary_memoryview": (
        ['51-["x",' + PH0 + "]", memoryview(bytearray(b"mv"))],
        Packet(T.EVENT, "/", ["x", b"mv"]),
    ),
    "unicode_namespace": (['2/caf\u00e9,["x"]'], Packet(T.EVENT, "/caf\u00e9", ["x"])),
    "namespace_with_brackets": (['2/a[b]{c}"d,["x"]'], Packet(T.EVENT, '/a[b]{c}"d', ["x"])),
}


@pytest.mark.parametrize("messages, packet", list(DECODE_SERVER.values()), ids=list(DECODE_SERVER))
def test_decode_server_role(messages: List[Union[str, bytes]], packet: Packet) -> None:
    decoder = Decoder()
    got = feed_all(decoder, messages)
    assert got == packet
    assert type(got.type) is PacketType  # type: ignore[union-attr]
    assert got.type in (T.CONNECT, T.DISCONNECT, T.EVENT, T.ACK)  # type: ignore[union-attr]
    if got.data is not None:  # type: ignore[union-attr]
        assert all(type(x) is bytes for x in got.data if isinstance(x, (bytes, bytearray)))  # type: ignore[union-attr]


DECODE_CLIENT = {
    "connect_sid": (['0{"sid":"wZX3oN0bSVIhsaknAAAI"}'], Packet(T.CONNECT, "/", {"sid": "wZX3oN0bSVIhsaknAAAI"})),
    "connect_sid_pid": (['0/admin,{"sid":"a","pid":"b"}'], Packet(T.CONNECT, "/admin", {"sid": "a", "pid": "b"})),
    "connect_error_object": (
        ['4/random,{"message":"Invalid namespace"}'],
        Packet(T.CONNECT_ERROR, "/random", {"message": "Invalid namespace"}),
    ),
    "connect_error_string": (['4"Not authorized"'], Packet(T.CONNECT_ERROR, "/", "Not authorized")),
    "event": (['2["hey","Jude"]'], Packet(T.EVENT, "/", ["hey", "Jude"])),
    "ack_binary": (["61-/admin,1[" + PH0 + "]", b"\x00"], Packet(T.ACK, "/admin", [b"\x00"], 1)),
    "disconnect": (["1/admin,"], Packet(T.DISCONNECT, "/admin")),
}


@pytest.mark.parametrize("messages, packet", list(DECODE_CLIENT.values()), ids=list(DECODE_CLIENT))
def test_decode_client_role(messages: List[Union[str, bytes]], packet: Packet) -> None:
    assert feed_all(Decoder(role="client"), messages) == packet


ROLE_REJECTS = {
    "server": [
        '4{"message":"x"}',  # CONNECT_ERROR comes from servers only
        '4"x"',
        "0[]",
        '0"auth"',
        "01",  # ack id on CONNECT
        "1/admin,{}",
        "1/admin,5",
        '3["x"]',  # ACK without id
        '2["x",1',
        "2",
        "2[]",
        "2{}",
        '2"abc"',
        '2[""]',
        "2[1]",  # numeric event names are refused (Node accepts numbers)
        '2[["x"]]',
    ],
    "client": [
        "0",  # a server CONNECT must carry the sid
        "0{}",
        '0{"sid":1}',
        '0{"sid":""}',
        "4",
        "4[]",
        '41{"message":"x"}',
        '2["connect"]',
        '2["error"]',
    ],
}


@pytest.mark.parametrize(
    "role, text",
    [(role, text) for role, texts in ROLE_REJECTS.items() for text in texts],
    ids=[f"{role}:{text}" for role, texts in ROLE_REJECTS.items() for text in texts],
)
def test_role_validation(role: str, text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Decoder(role=role).feed(text)


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
@pytest.mark.parametrize("role", ["server", "client"])
def test_reserved_event_names(role: str, name: str) -> None:
    decoder = Decoder(role=role)
    with pytest.raises(RemoteProtocolError, match="reserved"):
        decoder.feed(json.dumps([name]).join(["2", ""]))
    with pytest.raises(RemoteProtocolError, match="reserved"):
        decoder.feed("51-" + json.dumps([name, {"_placeholder": True, "num": 0}]))
    assert not decoder.awaiting_attachments


def test_reserved_events_constant() -> None:
    assert RESERVED_EVENTS == {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
    }
    assert decode('2["Connect"]').event == "Connect"  # case matters


# ----------------------------------------------------------------------- limits


def test_event_name_length_limit() -> None:
    assert decode('2["%s"]' % ("e" * 256)).event == "e" * 256
    with pytest.raises(RemoteProtocolError, match="too long"):
        decode('2["%s"]' % ("e" * 257))
    assert decode('2["%s"]' % ("e" * 300), Limits(max_event_name_length=300)).event == "e" * 300


def test_namespace_length_limit() -> None:
    ok = "/" + "n" * 255
    assert decode("0" + ok + ",").namespace == ok
    assert decode("0" + ok).namespace == ok
    with pytest.raises(RemoteProtocolError, match="namespace too long"):
        decode("0/" + "n" * 256 + ",")
    with pytest.raises(RemoteProtocolError, match="namespace too long"):
        decode("0/" + "n" * 256)
    assert decode("0/abc,", Limits(max_namespace_length=4)).namespace == "/abc"
    with pytest.raises(RemoteProtocolError):
        decode("0/abcd,", Limits(max_namespace_length=4))


def test_ack_id_limits() -> None:
    with pytest.raises(RemoteProtocolError, match="out of range"):
        decode('2%d["x"]' % (MAX_ACK_ID + 1))
    with pytest.raises(RemoteProtocolError, match="too long"):
        decode('2%s["x"]' % ("0" * 17))
    with pytest.raises(RemoteProtocolError, match="out of range"):
        decode('2100["x"]', Limits(max_ack_id=99))
    assert decode('299["x"]', Limits(max_ack_id=99)).id == 99


def test_attachment_count_limit() -> None:
    text = "5%d-[\"x\"]"
    decoder = Decoder(Limits(max_attachments=3))
    assert decoder.feed(text % 3) is None
    decoder.reset()
    with pytest.raises(RemoteProtocolError, match="too many attachments"):
        decoder.feed(text % 4)
    with pytest.raises(RemoteProtocolError, match="too many attachments"):
        Decoder().feed(text % 11)
    assert Decoder().feed(text % 10) is None


def test_attachment_bytes_limit() -> None:
    decoder = Decoder(Limits(max_attachment_bytes=10))
    assert decoder.feed('52-["x",' + PH0 + "," + PH1 + "]") is None
    assert decoder.feed(b"12345") is None
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(b"123456")
    assert info.value.close_code == CloseCode.MESSAGE_TOO_BIG
    assert info.value.http_status == 413
    assert not decoder.awaiting_attachments
    assert decoder.feed('2["again"]') == Packet(T.EVENT, "/", ["again"])


def test_json_limits_reach_the_decoder() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode('2["x",[[[]]]]', Limits(max_json_depth=3))
    assert info.value.close_code == CloseCode.INVALID_DATA
    assert decode('2["x",[[]]]', Limits(max_json_depth=3)).args == [[[]]]
    with pytest.raises(RemoteProtocolError):
        decode('2["x",12345]', Limits(max_int_digits=4))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"max_attachments": 0}, ValueError),
        ({"max_attachment_bytes": 0}, ValueError),
        ({"max_json_depth": 0}, ValueError),
        ({"max_int_digits": -1}, ValueError),
        ({"max_event_name_length": 0}, ValueError),
        ({"max_namespace_length": 0}, ValueError),
        ({"max_ack_id": -1}, ValueError),
        ({"max_ack_id": 10**16}, ValueError),
        ({"max_attachments": 1.5}, TypeError),
        ({"max_attachments": True}, TypeError),
        ({"max_attachmentz": 1}, TypeError),
    ],
)
def test_limits_are_validated(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        Limits(**kwargs)


def test_limits_defaults_and_zero_ack_id() -> None:
    limits = Limits()
    assert (limits.max_attachments, limits.max_json_depth, limits.max_int_digits) == (10, 64, 100)
    assert limits.max_ack_id == 2**53 - 1 == MAX_ACK_ID
    assert limits.max_attachment_bytes == 1_000_000
    assert decode('20["x"]', Limits(max_ack_id=0)).id == 0


# ----------------------------------------------------------------------- decoder state


def test_text_while_awaiting_attachments_drops_the_partial_packet() -> None:
    decoder = Decoder()
    assert decoder.feed('51-["up",' + PH0 + "]") is None
    with pytest.raises(RemoteProtocolError, match="waiting for binary"):
        decoder.feed('2["text"]')
    assert not decoder.awaiting_attachments
    with pytest.raises(RemoteProtocolError, match="no attachment"):
        decoder.feed(b"late")
    assert decoder.feed('2["next"]') == Packet(T.EVENT, "/", ["next"])


def test_binary_when_none_expected() -> None:
    with pytest.raises(RemoteProtocolError):
        Decoder().feed(b"\x01\x02")


def test_reset_drops_partial_packet() -> None:
    decoder = Decoder()
    decoder.feed('52-["up",' + PH0 + "," + PH1 + "]")
    decoder.feed(b"a")
    decoder.reset()
    assert not decoder.awaiting_attachments
    assert decoder.feed('51-["up",' + PH0 + "]") is None
    assert decoder.feed(b"b") == Packet(T.EVENT, "/", ["up", b"b"])


@pytest.mark.parametrize("message", [None, 42, 4.2, ["2"], {"a": 1}, object()])
def test_messages_that_are_neither_str_nor_bytes(message: Any) -> None:
    decoder = Decoder()
    decoder.feed('51-["up",' + PH0 + "]")
    with pytest.raises(RemoteProtocolError):
        decoder.feed(message)
    assert not decoder.awaiting_attachments


def test_str_subclass_is_accepted() -> None:
    class Text(str):
        pass

    assert Decoder().feed(Text('2["x"]')) == Packet(T.EVENT, "/", ["x"])


def test_decoder_arguments() -> None:
    with pytest.raises(ValueError):
        Decoder(role="peer")
    with pytest.raises(TypeError):
        Decoder(limits={"max_attachments": 1})  # type: ignore[arg-type]
    decoder = Decoder(Limits(max_attachments=2), role="client")
    assert decoder.role == "client" and decoder.limits.max_attachments == 2


def test_decode_convenience_refuses_binary_headers_and_non_str() -> None:
    with pytest.raises(RemoteProtocolError, match="attachments"):
        decode('51-["x",' + PH0 + "]")
    with pytest.raises(RemoteProtocolError):
        decode(b'2["x"]')  # type: ignore[arg-type]
    # the shared decoder keeps no state between calls
    assert decode('2["x"]') == Packet(T.EVENT, "/", ["x"])


def test_custom_loads() -> None:
    calls: List[str] = []

    def loads(text: str) -> Any:
        calls.append(text)
        return json.loads(text)

    decoder = Decoder(loads=loads)
    assert decoder.feed('2/a,3["x",{"y":1}]') == Packet(T.EVENT, "/a", ["x", {"y": 1}], 3)
    assert calls == ['["x",{"y":1}]']
    # depth is checked before the custom parser sees the text
    with pytest.raises(RemoteProtocolError, match="deeply"):
        decoder.feed('2["x",' + "[" * 5000 + "]" * 5000 + "]")
    assert len(calls) == 1
    with pytest.raises(RemoteProtocolError, match="surrogate"):
        decoder.feed('2["\\udc00"]')


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyError("k"), RecursionError(), ZeroDivisionError()])
def test_custom_loads_failures_become_remote_protocol_errors(exc: Exception) -> None:
    def loads(text: str) -> Any:
        raise exc

    decoder = Decoder(loads=loads)
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed('2["x"]')
    assert info.value.close_code == CloseCode.INVALID_DATA
    assert Decoder().feed('2["x"]') is not None


# ----------------------------------------------------------------------- packet helpers


def test_event_and_args() -> None:
    packet = decode('2["ev",1,{"a":2}]')
    assert packet.event == "ev"
    assert packet.args == [1, {"a": 2}]
    ack = decode("37[1,2]")
    assert ack.args == [1, 2]
    with pytest.raises(LocalProtocolError):
        _ = ack.event
    with pytest.raises(LocalProtocolError):
        _ = Packet(T.CONNECT).args
    with pytest.raises(LocalProtocolError):
        _ = Packet(T.EVENT, "/", []).event
    assert Packet(T.BINARY_EVENT, "/", ("e", b"x")).event == "e"
    assert Packet(T.BINARY_ACK, "/", (b"x",), 1).args == [b"x"]


def test_packets_are_frozen_values() -> None:
    packet = Packet(T.EVENT, "/", ["x"])
    with pytest.raises(AttributeError):
        packet.namespace = "/other"  # type: ignore[misc]
    assert packet == Packet(PacketType.EVENT, "/", ["x"], None)
    assert Packet(T.CONNECT) == Packet(T.CONNECT, "/", None, None)


def test_connect_error_data() -> None:
    assert connect_error_data("Not authorized") == {"message": "Not authorized"}
    assert connect_error_data(ValueError("boom"), {"code": 4}) == {"message": "boom", "data": {"code": 4}}
    assert connect_error_data("m", 0) == {"message": "m", "data": 0}
    (text,) = encode(Packet(T.CONNECT_ERROR, "/", connect_error_data("no", [1])))
    assert decode(text, role="client").data == {"message": "no", "data": [1]}


def test_packet_type_values() -> None:
    assert [t.value for t in PacketType] == list(range(7))
    assert [t.name for t in PacketType] == [
        "CONNECT",
        "DISCONNECT",
        "EVENT",
        "ACK",
        "CONNECT_ERROR",
        "BINARY_EVENT",
        "BINARY_ACK",
    ]


def test_decoded_packets_are_ordinary_packets() -> None:
    # Decoders build packets through the slot descriptors; they must be
    # indistinguishable from Packet(...).
    got = decode('2/a,5["x",{"y":[1]}]')
    made = Packet(T.EVENT, "/a", ["x", {"y": [1]}], 5)
    assert got == made and type(got) is Packet and repr(got) == repr(made)
    with pytest.raises(AttributeError):
        got.id = 6  # type: ignore[misc]


def test_encode_accepts_plain_int_types() -> None:
    assert encode(Packet(2, "/", ["x"], 1)) == ['21["x"]']  # type: ignore[arg-type]
    assert encode(Packet(1, "/a")) == ["1/a,"]  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        encode(Packet(True, "/", ["x"]))  # type: ignore[arg-type]
