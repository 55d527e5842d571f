"""The broker codec: notepack's encodings, JSON sniffing, limits, typed accessors."""
import pytest

from siothread.adapters import wire
from siothread.adapters.base import BroadcastOptions
from siothread.protocol.socketio import Packet, PacketType


def test_msgpack_and_json_are_told_apart_by_the_first_byte():
    assert wire.decode(b'{"a":[1,2]}') == {"a": [1, 2]}
    assert wire.decode(wire.encode_msgpack(["uid", {"b": b"\x00\x01"}])) == ["uid", {"b": b"\x00\x01"}]
    assert wire.encode_auto({"x": 1}).startswith(b"{")
    assert not wire.encode_auto({"x": b"1"}).startswith(b"{")


def test_notepack_extensions():
    assert wire.decode(b"\x92\xd4\x00\x00\x01") == [None, 1]  # [undefined, 1]
    ms = 1_700_000_000_123
    date = b"\xd7\x00" + (ms // 2**32).to_bytes(4, "big") + (ms % 2**32).to_bytes(4, "big")
    assert wire.decode(date) == "2023-11-14T22:13:20.123Z"
    assert wire.decode(b"\xc7\x03\x00abc") == b"abc"  # an ArrayBuffer
    with pytest.raises(wire.WireError):
        wire.decode(b"\xd4\x05\x00")  # an unknown extension


@pytest.mark.parametrize("raw", [b"", b"\xc1", b"{bad", b"x" * 2_000_000, b"\x81\x01\x02"])
def test_bad_input_is_a_wire_error(raw):
    with pytest.raises(wire.WireError):
        wire.decode(raw)


def test_depth_is_capped():
    value = 1
    for _ in range(40):
        value = [value]
    with pytest.raises(wire.WireError):
        wire.decode(wire.encode_msgpack(value))
    with pytest.raises(wire.WireError):
        wire.decode(wire.encode_json({"a": value}))
    assert wire.decode(wire.encode_msgpack(value), wire.WireLimits(max_depth=64))


def test_packets_and_options_round_trip():
    packet = Packet(PacketType.EVENT, "/chat", ["ev", 1, b"\x01"], 7)
    back = wire.packet_from_wire(wire.decode(wire.encode_msgpack(wire.packet_to_wire(packet))), "/chat")
    assert back == packet
    opts = BroadcastOptions.build(["a", "b"], "c", volatile=True, compress=False)
    raw = wire.opts_to_wire(opts, 1.5)
    assert raw["flags"] == {"volatile": True, "compress": False, "timeout": 1500}
    assert wire.opts_from_wire(raw) == opts
    assert wire.opts_from_wire({"rooms": [1, "x"], "except": []}).rooms == {"1", "x"}
    assert wire.flag_timeout(raw, 9.0, 60.0) == 1.5
    assert wire.flag_timeout({"flags": {"timeout": 10**12}}, 9.0, 60.0) == 60.0


@pytest.mark.parametrize("packet", [
    None, [], {"type": 3, "data": [1]}, {"type": 2, "data": []}, {"type": 2, "data": [1]},
    {"type": 2, "data": ["e"], "nsp": "/other"}, {"type": 2, "data": ["e"], "id": -1}, {"type": True, "data": ["e"]},
])
def test_bad_packets(packet):
    with pytest.raises(wire.WireError):
        wire.packet_from_wire(packet, "/")


def test_drop_log_is_rate_limited(caplog):
    log = wire.DropLog(__import__("logging").getLogger("t"), interval=60)
    for _ in range(100):
        log.drop("invalid", "x")
    assert log.total == 100
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
