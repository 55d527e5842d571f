"""siothread.protocol.jsonsafe: JSON with depth / integer limits, surrogates, compact dumps."""
from __future__ import annotations

import json

import pytest

from siothread.errors import CloseCode, RemoteProtocolError
from siothread.protocol import jsonsafe
from siothread.protocol.jsonsafe import JsonReader, check_text, dumps, has_lone_surrogate, loads


@pytest.mark.parametrize(
    "text, value",
    [
        ("[]", []),
        ("{}", {}),
        ('["a",1,-2,3.5,true,false,null]', ["a", 1, -2, 3.5, True, False, None]),
        ('{"a":{"b":[{"c":[]}]}}', {"a": {"b": [{"c": []}]}}),
        (' \t\n\r[1] \n', [1]),
        ('"\\ud83d\\ude00"', "\U0001F600"),  # an escaped surrogate *pair* is fine
        ('"caf\u00e9 \U0001F600"', "caf\u00e9 \U0001F600"),
        ('"[[[[{{{{"', "[[[[{{{{"),  # brackets in strings do not count as nesting
        ('"\\\\"', "\\"),
        ("1e308", 1e308),
        ("-0", 0),
        ("9" * 100, int("9" * 100)),
        ("-" + "9" * 100, -int("9" * 100)),
    ],
)
def test_loads_accepts(text: str, value: object) -> None:
    assert loads(text) == value


def _nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[",
        "[1,]",
        "{'a':1}",
        "[1] x",
        "[1][2]",
        "NaN",
        "[Infinity]",
        "[-Infinity]",
        "1e400",
        "-1e400",
        "1" * 400 + ".0",
        "9" * 101,
        "-" + "9" * 101,
        '"\\ud800"',
        '"\\udc00"',
        '{"\\ud800":1}',
        '"\\ud83d"',
        '"\ud800"',
        '"a\x00b"',  # raw control characters are not JSON (JSON.parse agrees)
        _nested(65),
        _nested(10_000),
        "[" * 100_000,
        '"' + "[" * 100_000,
    ],
    ids=lambda t: repr(t[:24]) + (f"..({len(t)})" if len(t) > 24 else ""),
)
def test_loads_rejects(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        loads(text)
    assert info.value.close_code == CloseCode.INVALID_DATA


def test_depth_limit_is_exact_for_lists_and_objects() -> None:
    assert loads(_nested(64)) is not None
    with pytest.raises(RemoteProtocolError, match="deeply"):
        loads(_nested(65))
    objects = '{"a":' * 64 + "1" + "}" * 64
    assert loads(objects) is not None
    with pytest.raises(RemoteProtocolError, match="deeply"):
        loads('{"a":' * 65 + "1" + "}" * 65)
    mixed = '[{"a":' * 32 + "[]" + "}]" * 32  # 65 levels, alternating kinds
    with pytest.raises(RemoteProtocolError, match="deeply"):
        loads(mixed)
    assert loads('[{"a":' * 32 + "1" + "}]" * 32) is not None


def test_depth_ignores_brackets_inside_strings_and_escapes() -> None:
    text = json.dumps(["[" * 200, "]" * 200, '\\"[[[', {"k[[[": "{{{"}])
    assert loads(text)[0] == "[" * 200
    # many shallow containers: the exact scan runs and must say yes
    wide = json.dumps([{"a": [1, 2, {"b": "]]]"}]} for _ in range(300)])
    assert len(loads(wide)) == 300


def test_custom_limits() -> None:
    with pytest.raises(RemoteProtocolError):
        loads("[[[]]]", max_depth=2)
    assert loads("[[]]", max_depth=2) == [[]]
    with pytest.raises(RemoteProtocolError, match="integer"):
        loads("12345", max_int_digits=4)
    assert loads("-1234", max_int_digits=4) == -1234
    assert loads('"12345"', max_int_digits=4) == "12345"


def test_reader_parses_from_an_offset_without_copying_the_head() -> None:
    reader = JsonReader()
    assert reader.parse('xx/[,{"a":[1]}', 5) == {"a": [1]}
    with pytest.raises(RemoteProtocolError):
        reader.parse('xx[[["a"]', 2)
    with pytest.raises(ValueError):
        JsonReader(0, 10)


def test_loads_rejects_non_str() -> None:
    with pytest.raises(RemoteProtocolError):
        loads(b"[]")  # type: ignore[arg-type]


def test_check_text_only_looks_after_start() -> None:
    check_text("[" * 100 + "[]", 100, 64)
    with pytest.raises(RemoteProtocolError):
        check_text("[" * 100 + "[]", 0, 64)
    with pytest.raises(RemoteProtocolError):
        check_text('x"\udfff"', 1, 64)


def test_has_lone_surrogate() -> None:
    assert has_lone_surrogate({"a": ["\udc80"]})
    assert has_lone_surrogate({"\ud800": 1})
    assert not has_lone_surrogate({"a": ["\U0001F600", "\\ud800"]})


@pytest.mark.parametrize(
    "value, text",
    [
        ([], "[]"),
        ({"a": [1, 2.5, None, True]}, '{"a":[1,2.5,null,true]}'),
        (("x", "y"), '["x","y"]'),
        ("caf\u00e9", '"caf\u00e9"'),
        ("a\x1eb", '"a\\u001eb"'),  # control characters stay escaped: never a raw separator
        (["ok \u00e9", "\ud800"], '["ok \\u00e9","\\ud800"]'),  # lone surrogate: escape, like JSON.stringify
    ],
)
def test_dumps(value: object, text: str) -> None:
    out = dumps(value)
    assert out == text
    out.encode("utf-8")


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (b"x", TypeError), (object(), TypeError)])
def test_dumps_refuses_what_json_cannot_carry(value: object, error: type) -> None:
    with pytest.raises(error):
        dumps([value])


def test_deep_scan_is_linear() -> None:
    # 64 levels repeated over 1 MB: the peeling loop runs 64 times over a shrinking string.
    chunk = _nested(64)
    text = "[" + ",".join([chunk] * (1_000_000 // len(chunk))) + "]"
    with pytest.raises(RemoteProtocolError):
        loads(text)  # 65 levels with the outer list
    assert jsonsafe._deeper_than(text, 1, 64) is False
