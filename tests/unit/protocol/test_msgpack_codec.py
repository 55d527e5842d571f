"""siothread.protocol.msgpack_codec: socket.io-msgpack-parser 3.x / notepack.io 2.x compatibility.

The hex fixtures are the output of socket.io-msgpack-parser 3.0.2 (notepack.io
2.2.0) ``Encoder.encode`` for the packet named in each row; socket.io-client
4.8 adds ``options`` to EVENT packets and leaves ``data`` undefined on a
CONNECT without auth.
"""
from __future__ import annotations

from typing import Any

import msgpack
import pytest

from siothread.errors import CloseCode, LocalProtocolError, RemoteProtocolError
from siothread.protocol import msgpack_codec
from siothread.protocol.msgpack_codec import UNDEFINED, Decoder, encode, unpack_exact
from siothread.protocol.socketio import Limits, Packet, PacketType

T = PacketType

NOTEPACK = {
    # {type: 0, data: undefined, nsp: "/"}
    "connect_without_auth": (
        "83a47479706500a464617461d40000a36e7370a12f",
        "server",
        Packet(T.CONNECT),
    ),
    "connect_with_auth": (
        "83a47479706500a46461746181a5746f6b656ea178a36e7370a62f61646d696e",
        "server",
        Packet(T.CONNECT, "/admin", {"token": "x"}),
    ),
    # {type: 2, data: ["hello", 1, "w"], options: {compress: true}, id: 3, nsp: "/"}
    "event_with_options_and_id": (
        "85a47479706502a46461746193a568656c6c6f01a177a76f7074696f6e7381a8636f6d7072657373c3a2696403a36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["hello", 1, "w"], 3),
    ),
    # new Uint8Array([0]): ext 8, type 0 (collides with undefined in the C extension)
    "event_uint8array_zero": (
        "83a47479706502a46461746192a162c7010000a36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["b", b"\x00"]),
    ),
    # new ArrayBuffer(8): ext 8, type 0 (collides with Date in the C extension)
    "event_arraybuffer_8": (
        "83a47479706502a46461746192a162c708000000000000000000a36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["b", bytes(8)]),
    ),
    "event_node_buffer": (
        "83a47479706502a46461746192a162c403010203a36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["b", b"\x01\x02\x03"]),
    ),
    # new Date(1700000000123): fixext 8, type 0
    "event_date": (
        "83a47479706502a46461746192a164d7000000018bcfe5687ba36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["d", "2023-11-14T22:13:20.123Z"]),
    ),
    # ["u", undefined, {a: undefined, b: 1}]
    "event_undefined_values": (
        "83a47479706502a46461746193a175d4000082a161d40000a16201a36e7370a12f",
        "server",
        Packet(T.EVENT, "/", ["u", None, {"b": 1}]),
    ),
    "disconnect": ("82a47479706501a36e7370a52f63686174", "server", Packet(T.DISCONNECT, "/chat")),
    "ack_empty": ("84a47479706503a46461746190a2696400a36e7370a12f", "server", Packet(T.ACK, "/", [], 0)),
    "connect_error": (
        "83a47479706504a46461746181a76d657373616765a46e6f7065a36e7370a12f",
        "client",
        Packet(T.CONNECT_ERROR, "/", {"message": "nope"}),
    ),
}


@pytest.mark.parametrize("hexdata, role, packet", list(NOTEPACK.values()), ids=list(NOTEPACK))
def test_decodes_notepack_output(hexdata: str, role: str, packet: Packet) -> None:
    assert Decoder(role=role).feed(bytes.fromhex(hexdata)) == packet
    assert Decoder(role=role).feed(bytearray.fromhex(hexdata)) == packet


def test_c_path_and_exact_path_agree_on_notepack_output() -> None:
    for hexdata, _, _ in NOTEPACK.values():
        blob = bytes.fromhex(hexdata)
        exact = unpack_exact(blob)
        assert isinstance(exact, dict)
        if not any(p in blob for p in msgpack_codec._EXACT_TRIGGERS):
            c_value = msgpack.unpackb(blob, raw=False, ext_hook=msgpack_codec._c_ext_hook)
            assert c_value == exact


def test_encode_matches_what_notepack_decodes() -> None:
    # Decoded by socket.io-msgpack-parser as
    # {"type":2,"data":["a",<Buffer 01>],"nsp":"/","id":3}
    (blob,) = encode(Packet(T.BINARY_EVENT, "/", ("a", bytearray(b"\x01")), 3))
    assert blob == bytes.fromhex("84a47479706502a46461746192a161c40101a36e7370a12fa2696403")
    assert msgpack.unpackb(blob) == {"type": 2, "data": ["a", b"\x01"], "nsp": "/", "id": 3}


def test_encode_leaves_out_absent_fields_and_always_sends_nsp() -> None:
    assert msgpack.unpackb(encode(Packet(T.DISCONNECT, "/chat"))[0]) == {"type": 1, "nsp": "/chat"}
    assert msgpack.unpackb(encode(Packet(T.BINARY_ACK, "/", [memoryview(b"m")], 0))[0]) == {
        "type": 3,
        "data": [b"m"],
        "nsp": "/",
        "id": 0,
    }


@pytest.mark.parametrize(
    "packet",
    [
        Packet(T.EVENT, "admin", ["x"]),
        Packet(T.ACK, "/", []),
        Packet(T.EVENT, "/", ["x", "\ud800"]),
        Packet(T.CONNECT, "/", None, 4),
    ],
    ids=["namespace", "ack-without-id", "lone-surrogate", "id-on-connect"],
)
def test_encode_refuses_invalid_packets(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        encode(packet)


def test_encode_unserializable() -> None:
    with pytest.raises(TypeError):
        encode(Packet(T.EVENT, "/", ["x", object()]))


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


BAD = {
    "text-message": ("2", "server"),
    "not-a-map": (pack([2, "/", ["x"]]), "server"),
    "type-missing": (pack({"nsp": "/", "data": ["x"]}), "server"),
    "type-5-binary-event": (pack({"type": 5, "nsp": "/", "data": ["x"]}), "server"),
    "type-bool": (pack({"type": True, "nsp": "/"}), "server"),
    "type-float": (pack({"type": 2.0, "nsp": "/", "data": ["x"]}), "server"),
    "nsp-missing": (pack({"type": 2, "data": ["x"]}), "server"),
    "nsp-not-str": (pack({"type": 2, "nsp": 1, "data": ["x"]}), "server"),
    "nsp-no-slash": (pack({"type": 2, "nsp": "admin", "data": ["x"]}), "server"),
    "nsp-too-long": (pack({"type": 2, "nsp": "/" + "a" * 300, "data": ["x"]}), "server"),
    "nsp-undefined": (bytes.fromhex("83a47479706501a36e7370d40000a464617461c0"), "server"),
    "id-negative": (pack({"type": 2, "nsp": "/", "data": ["x"], "id": -1}), "server"),
    "id-too-big": (pack({"type": 2, "nsp": "/", "data": ["x"], "id": 2**53}), "server"),
    "id-str": (pack({"type": 2, "nsp": "/", "data": ["x"], "id": "1"}), "server"),
    "event-reserved": (pack({"type": 2, "nsp": "/", "data": ["disconnect"]}), "server"),
    "event-name-int": (pack({"type": 2, "nsp": "/", "data": [1]}), "server"),
    "event-empty": (pack({"type": 2, "nsp": "/", "data": []}), "server"),
    "event-name-bytes": (pack({"type": 2, "nsp": "/", "data": [b"x"]}), "server"),
    "connect-error-from-client": (pack({"type": 4, "nsp": "/", "data": "x"}), "server"),
    "connect-without-sid": (pack({"type": 0, "nsp": "/"}), "client"),
    "bytes-map-key": (pack({"type": 2, "nsp": "/", "data": ["x", {b"k": 1}]}), "server"),
    "int-map-key": (pack({"type": 2, "nsp": "/", "data": ["x", {1: 1}]}), "server"),
    "too-deep": (pack({"type": 2, "nsp": "/", "data": ["x", [[[[[[[[[[]]]]]]]]]]]}), "server-shallow"),
    "ext-type-1": (pack({"type": 2, "nsp": "/", "data": ["x", msgpack.ExtType(1, b"a")]}), "server"),
    "timestamp": (pack({"type": 2, "nsp": "/", "data": ["x", msgpack.Timestamp(1, 0)]}), "server"),
    "trailing-bytes": (pack({"type": 1, "nsp": "/"}) + b"\xc0", "server"),
    "truncated": (pack({"type": 2, "nsp": "/", "data": ["xyz"]})[:-1], "server"),
    "empty": (b"", "server"),
    "invalid-utf8": (b"\x81\xa4type\xa2\xff\xfe", "server"),
    "reserved-byte-c1": (b"\xc1", "server"),
    "huge-array-header": (b"\xdd\xff\xff\xff\xff", "server"),
    "date-out-of-range": (
        bytes.fromhex("83a47479706502a46461746192a164d7007fffffffffffffffa36e7370a12f"),
        "server",
    ),
}


@pytest.mark.parametrize("blob, role", list(BAD.values()), ids=list(BAD))
def test_rejects(blob: Any, role: str) -> None:
    limits = Limits(max_json_depth=8) if role == "server-shallow" else Limits()
    decoder = Decoder(limits, role=role.split("-")[0])
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(blob)
    assert info.value.close_code in (CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA)
    assert decoder.feed(pack({"type": 1, "nsp": "/"})) == Packet(T.DISCONNECT)


def test_exact_path_rejects_the_same_way() -> None:
    # Force the exact decoder with a trigger pattern inside a string.
    marker = "\xc7\x01\x00".encode("latin-1").decode("latin-1")
    blob = pack({"type": 2, "nsp": "/", "data": ["x", {1: 1}], "pad": b"\xc7\x01\x00"})
    with pytest.raises(RemoteProtocolError):
        Decoder().feed(blob)
    ok = pack({"type": 2, "nsp": "/", "data": ["x", marker], "pad": b"\xc7\x01\x00"})
    assert Decoder().feed(ok) == Packet(T.EVENT, "/", ["x", marker])


def test_depth_limit() -> None:
    deep: Any = []
    for _ in range(63):
        deep = [deep]
    blob = pack({"type": 2, "nsp": "/", "data": ["x", deep]})  # data is 65 levels deep
    with pytest.raises(RemoteProtocolError, match="deeply"):
        Decoder().feed(blob)
    blob = pack({"type": 2, "nsp": "/", "data": ["x", deep[0]]})
    assert Decoder().feed(blob) is not None
    with pytest.raises(RemoteProtocolError):
        unpack_exact(b"\x91" * 200 + b"\xc0")


def test_decoder_interface() -> None:
    decoder = Decoder()
    assert decoder.awaiting_attachments is False
    decoder.reset()
    assert decoder.role == "server"
    with pytest.raises(ValueError):
        Decoder(role="x")
    with pytest.raises(TypeError):
        Decoder(limits=None)  # type: ignore[arg-type]


def test_undefined_sentinel() -> None:
    assert repr(UNDEFINED) == "undefined"
    assert unpack_exact(bytes.fromhex("d40000")) is UNDEFINED
    assert unpack_exact(bytes.fromhex("c7010000")) == b"\x00"
    assert unpack_exact(bytes.fromhex("d7000000018bcfe5687b")) == "2023-11-14T22:13:20.123Z"
    assert unpack_exact(bytes.fromhex("d700fffffffffffffc18")) == "1969-12-31T23:59:59.000Z"
