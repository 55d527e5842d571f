"""Stream entries of the Redis Streams adapter: Node's field format, checks, and the replay filter."""
import base64
import json

import msgpack
import pytest

from siothread.adapters import wire
from siothread.adapters.stream_entries import (ZERO, decode_entry, encode_entry, format_id, missed_packet,
                                               parse_id)


def as_redis(fields):
    """The flat XADD list as redis-py hands an entry back: a dict of bytes."""
    raw = [f if isinstance(f, bytes) else str(f).encode() for f in fields]
    return dict(zip(raw[::2], raw[1::2]))


def broadcast(data, rooms=(), except_=(), flags=None, uid="node1"):
    return {"uid": uid, "nsp": "/", "type": 3,
            "data": {"packet": {"type": 2, "data": data, "nsp": "/"},
                     "opts": {"rooms": list(rooms), "except": list(except_), "flags": flags or {}}}}


def test_ids_parse_and_compare():
    assert parse_id("1700000000000-12") == (1700000000000, 12)
    assert parse_id(b"5-0") == (5, 0)
    assert parse_id("5-0") < parse_id("5-1") < parse_id("6-0")
    for bad in ("", "5", "5-", "-1", "a-b", "1-2-3", 5, None, "1" * 21 + "-0"):
        assert parse_id(bad) is None
    assert format_id((7, 3)) == "7-3" and format_id(ZERO) == "0-0"


def test_json_and_binary_entries_as_node_writes_them():
    fields = encode_entry(broadcast(["e", 1]))
    assert fields[:6] == ["uid", "node1", "nsp", "/", "type", "3"]
    assert json.loads(fields[7])["packet"]["data"] == ["e", 1]  # JSON.stringify(data)
    binary = encode_entry(broadcast(["e", b"\x00\x01"]))
    blob = base64.b64decode(binary[7])  # base64 of msgpack when the data holds binary
    assert msgpack.unpackb(blob)["packet"]["data"] == ["e", b"\x00\x01"]
    for message in (broadcast(["e", 1]), broadcast(["e", b"\x00\x01"])):
        assert decode_entry(as_redis(encode_entry(message))) == message
    assert decode_entry(as_redis(["uid", "u", "nsp", "/", "type", "2"])) == {"uid": "u", "nsp": "/", "type": 2}
    with pytest.raises(TypeError):  # only_plaintext promises no binary: JSON cannot carry it
        encode_entry(broadcast(["e", b"\x00"]), only_plaintext=True)


@pytest.mark.parametrize("fields", [
    ["uid", "u", "nsp", "/", "type", "3", "data", "!!"],
    ["uid", "u", "nsp", "/", "type", "3", "data", "{oops"],
    ["uid", "u", "nsp", "/", "type", "3", "data", base64.b64encode(b"{").decode()],
    ["uid", "u", "nsp", "/", "type", "0"],
    ["uid", "u", "nsp", "/", "type", "14"],
    ["uid", "u", "nsp", "/", "type", "x"],
    ["uid", "u", "type", "3"],
    ["nsp", "/", "type", "3"],
    ["uid", b"\xff\xfe", "nsp", "/", "type", "3"],
    ["uid", "u" * 65, "nsp", "/", "type", "3"],
])
def test_malformed_entries_raise_wire_error(fields):
    with pytest.raises(wire.WireError):
        decode_entry(as_redis(fields))


def test_oversized_data_is_refused_before_decoding():
    limits = wire.WireLimits(max_bytes=100)
    with pytest.raises(wire.WireError):
        decode_entry(as_redis(["uid", "u", "nsp", "/", "type", "3", "data", "{" + " " * 200 + "}"]), limits)


def test_replay_filter():
    rooms = frozenset({"sid1", "red"})
    start, at = (10, 0), (20, 0)

    def replayed(message, joined=None, namespace="/"):
        packet = missed_packet(message, format_id(at), at, namespace, rooms, joined or {}, start)
        return None if packet is None else packet.data

    assert replayed(broadcast(["e", 1])) == ["e", 1, "20-0"]  # offset appended
    assert replayed(broadcast(["e"], rooms=["red"])) == ["e", "20-0"]
    assert replayed(broadcast(["e"], rooms=["blue"])) is None  # not its room
    assert replayed(broadcast(["e"], except_=["red"])) is None  # its room excluded
    assert replayed(broadcast(["e"], flags={"volatile": True})) is None
    assert replayed(broadcast(["e"]), namespace="/other") is None
    assert replayed(broadcast(["e"], rooms=["red"]), joined={"red": (25, 0)}) is None  # joined after it
    assert replayed(broadcast(["e"], rooms=["red"]), joined={"red": (15, 0)}) == ["e", "20-0"]
    with_ack = broadcast(["e"])
    with_ack["data"]["requestId"] = "r1"
    assert replayed(with_ack) is None
    assert replayed({"uid": "u", "nsp": "/", "type": 4, "data": {}}) is None
    with pytest.raises(wire.WireError):
        replayed({"uid": "u", "nsp": "/", "type": 3, "data": {"packet": {"type": 2, "data": [1]}}})


def test_lost_after_sees_trimmed_and_deleted_entries():
    from siothread.adapters.stream_recovery import _lost_after

    def info(first, added, length, deleted=b"0-0"):
        return {b"recorded-first-entry-id": first, b"entries-added": added, b"length": length,
                b"max-deleted-entry-id": deleted}

    assert not _lost_after(None, (5, 0))
    assert not _lost_after(info(b"3-0", 10, 10), (5, 0))  # the start entry is still there
    assert not _lost_after(info(b"6-0", 10, 10), ZERO)  # nothing was ever removed
    assert _lost_after(info(b"6-0", 30, 10), (5, 0))  # trimmed past the start
    assert _lost_after(info(b"6-0", 30, 10), ZERO)
    assert not _lost_after(info(b"4-0", 30, 10), (5, 0))  # trimmed, but only before the start
    assert _lost_after(info(b"1-0", 10, 9, deleted=b"7-0"), (5, 0))  # XDEL after the start
    assert _lost_after({b"first-entry": [b"6-0", []]}, (5, 0))  # Redis < 7: Node's rule
