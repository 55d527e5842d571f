"""siothread.protocol.binary: placeholder deconstruction / reconstruction (socket.io-parser binary.ts)."""
from __future__ import annotations

from typing import Any

import pytest

from siothread.errors import RemoteProtocolError
from siothread.protocol.binary import (
    deconstruct,
    fill_placeholders,
    has_binary,
    locate_placeholders,
    reconstruct,
)


def ph(num: Any) -> dict:
    return {"_placeholder": True, "num": num}


@pytest.mark.parametrize(
    "data, expected",
    [
        (None, False),
        ("bytes", False),
        ([1, "a", {"b": [None]}], False),
        (b"", True),
        (bytearray(b"x"), True),
        (memoryview(b"x"), True),
        ([[[[{"a": (1, b"x")}]]]], True),
        ({"k": {"k": {"k": b"x"}}}, True),
        ({b"key": 1}, False),  # keys are not looked at: JSON keys are strings
    ],
)
def test_has_binary(data: Any, expected: bool) -> None:
    assert has_binary(data) is expected


def test_has_binary_is_not_recursive() -> None:
    data: Any = b"x"
    for _ in range(5000):
        data = [data]
    assert has_binary(data)


def test_deconstruct_numbers_depth_first_like_socket_io_parser() -> None:
    data = ["ev", b"0", {"a": b"1", "b": [b"2", {"c": b"3"}]}, (b"4",), b"5"]
    out, attachments = deconstruct(data)
    assert out == ["ev", ph(0), {"a": ph(1), "b": [ph(2), {"c": ph(3)}]}, [ph(4)], ph(5)]
    assert attachments == [b"0", b"1", b"2", b"3", b"4", b"5"]
    assert data[1] == b"0"  # input untouched


def test_deconstruct_copies_mutable_buffers() -> None:
    buf = bytearray(b"abc")
    view = memoryview(b"xyz")
    _, attachments = deconstruct([buf, view])
    buf[0] = 0
    assert attachments == [b"abc", b"xyz"]
    assert all(type(a) is bytes for a in attachments)


def test_deconstruct_without_binary_is_a_copy() -> None:
    data = {"a": [1, 2]}
    out, attachments = deconstruct(data)
    assert out == data and out is not data and attachments == []


def test_reconstruct_round_trip_and_purity() -> None:
    data = ["ev", {"x": [b"a", b"b"]}, b"c"]
    skeleton, attachments = deconstruct(data)
    frozen_skeleton = repr(skeleton)
    assert reconstruct(skeleton, attachments) == data
    assert repr(skeleton) == frozen_skeleton  # not modified


def test_reconstruct_top_level_and_unused_attachments() -> None:
    assert reconstruct(ph(1), [b"a", b"b"]) == b"b"
    assert reconstruct(["x"], [b"unused"]) == ["x"]


def test_reconstruct_same_attachment_twice() -> None:
    assert reconstruct([ph(0), ph(0)], [b"a"]) == [b"a", b"a"]


BAD_PLACEHOLDERS = {
    "num_string": {"_placeholder": True, "num": "splice"},
    "num_negative": ph(-1),
    "num_float": ph(1.5),
    "num_float_integral": ph(0.0),
    "num_null": ph(None),
    "num_bool": ph(True),
    "num_out_of_range": ph(1),
    "num_missing": {"_placeholder": True},
    "flag_string": {"_placeholder": "true", "num": 0},
    "flag_false": {"_placeholder": False, "num": 0},
    "flag_one": {"_placeholder": 1, "num": 0},
    "extra_key": {"_placeholder": True, "num": 0, "x": 1},
}


@pytest.mark.parametrize("bad", list(BAD_PLACEHOLDERS.values()), ids=list(BAD_PLACEHOLDERS))
def test_strict_placeholders(bad: dict) -> None:
    with pytest.raises(RemoteProtocolError):
        reconstruct(["ev", {"deep": [bad]}], [b"only one"])
    with pytest.raises(RemoteProtocolError):
        locate_placeholders(["ev", {"deep": [bad]}], 1)


def test_locate_and_fill() -> None:
    data = ["ev", ph(1), {"k": [ph(0)]}]
    slots = locate_placeholders(data, 2)
    assert len(slots) == 2
    fill_placeholders(slots, [b"zero", b"one"])
    assert data == ["ev", b"one", {"k": [b"zero"]}]


def test_locate_rejects_top_level_placeholder_and_ignores_scalars() -> None:
    with pytest.raises(RemoteProtocolError):
        locate_placeholders(ph(0), 1)
    assert locate_placeholders("x", 1) == []
    assert locate_placeholders(None, 1) == []


def test_locate_is_not_recursive() -> None:
    data: Any = [ph(0)]
    for _ in range(5000):
        data = {"a": [data]}
    assert len(locate_placeholders(data, 1)) == 1
