"""The fast paths of the Socket.IO codec agree with the general ones.

``Decoder.feed`` decodes the common text packet (an EVENT or ACK of the main
namespace with a short JSON array) inline; everything else, and everything
invalid, goes through ``Decoder._parse_text``. ``encode_event`` /
``encode_ack`` encode without building a ``Packet`` and hand anything unusual
to ``encode``. These properties check that each fast path gives the same
packet, text or error as the general path, for valid and malformed input.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from siothread.errors import LocalProtocolError, RemoteProtocolError
from siothread.protocol import jsonsafe
from siothread.protocol.socketio import (
    MAX_ACK_ID,
    Decoder,
    Limits,
    Packet,
    PacketType,
    encode,
    encode_ack,
    encode_event,
)

T = PacketType
PROPERTY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.integers(min_value=-(10**120), max_value=10**120)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["connect", "error", "disconnect", "\ud800", "é", "\x00", "\\", '"'])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
# Fragments that make a JSON text invalid or push it over a limit.
JUNK = ["[", "]", "{", "}", '"', ",", ":", " ", "\\", "\\u", "\\ud800", "\\uDC00", "\ud800", "é", "1e999", "-1E+400",
        "1e5", "1.5e-3", "NaN", "Infinity", "-Infinity", "0" * 120, "9" * 20, "true", "nul", "x", "\x1e", "/", "-"]
limits = st.sampled_from([
    Limits(),
    Limits(max_json_depth=2, max_int_digits=4, max_event_name_length=3, max_ack_id=99),
    Limits(max_json_depth=3, max_int_digits=300),
    Limits(max_json_depth=200, max_int_digits=20),
])


def dumps(value: Any, spaced: bool) -> str:
    if spaced:
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Text packets shaped like the fast path's input, often broken somewhere."""
    kind = draw(st.sampled_from(["2"] * 6 + ["3"] * 4 + ["0", "1", "4", "5", "6", "21-", "2/", "2/chat,", ""]))
    digits = draw(st.none() | st.integers(min_value=0, max_value=10**18).map(str)
                  | st.sampled_from(["0", "007", "9" * 16, "9" * 17, str(MAX_ACK_ID), str(MAX_ACK_ID + 1), "١", "²"]))
    body: Any = draw(st.lists(values, max_size=4))
    if draw(st.integers(0, 4)):
        body = [draw(st.sampled_from(["echo", "ack", "a", "error", "connect", ""]) | st.text(max_size=5)), *body]
    if draw(st.integers(0, 9)) == 0:
        body = draw(values)  # not a list
    text = kind + (digits or "") + dumps(body, draw(st.booleans()))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # break it, sometimes
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if action == "insert":
            text = text[:position] + draw(st.sampled_from(JUNK)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + 1:]
        else:
            text = text[:position]
    if draw(st.integers(0, 9)) == 0:
        text += draw(st.sampled_from([" ", "\n", "x", "]", "\t"]))
    return text


def outcome(fn: Callable[[], Any]) -> Tuple[str, Any]:
    try:
        value = fn()
    except RemoteProtocolError as exc:
        return "error", (type(exc), exc.message, exc.close_code, exc.engine_code, exc.http_status)
    if isinstance(value, Packet):
        return "packet", (value.type, value.namespace, typed(value.data), value.id)
    return "other", type(value)


def typed(value: Any) -> Any:
    """A value with the types made visible (1, 1.0 and True compare equal in Python)."""
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


# --------------------------------------------------------------------------- decoder


@PROPERTY
@given(texts(), limits)
@example('2["echo","abcdefghijklmnop"]', Limits())
@example('3007["x"]', Limits())
@example('2[1e999]', Limits())
@example('2["a",1e999]', Limits())
@example('2["a","\\ud800"]', Limits())
@example('2["a","\ud800"]', Limits())
@example('2["a",[[[]]]]', Limits(max_json_depth=2))
@example('2["a",123456]', Limits(max_int_digits=4))
@example('2["abcd"]', Limits(max_event_name_length=3))
@example('2100["a"]', Limits(max_ack_id=99))
@example('299["a"]', Limits(max_ack_id=99))
@example('2["a"] ', Limits())
@example('2 ["a"]', Limits())
@example('3["a"]', Limits())
@example('31{"a":1}', Limits())
@example('2[NaN]', Limits())
@example('2["a",-Infinity]', Limits())
@example('2["connect"]', Limits())
@example('2[""]', Limits())
@example('2[]', Limits())
@example('2[', Limits())
@example('2', Limits())
def test_feed_agrees_with_the_general_parser(text: str, lim: Limits) -> None:
    for role in ("server", "client"):
        fast = outcome(lambda: Decoder(lim, role=role).feed(text))
        general = outcome(lambda: Decoder(lim, role=role)._parse_text(text))
        assert fast == general


@PROPERTY
@given(st.sampled_from([T.EVENT, T.ACK]), st.sampled_from(["echo", "a", "message"]) | st.text(min_size=1, max_size=4),
       st.lists(values, max_size=3), st.none() | st.integers(0, MAX_ACK_ID), limits)
def test_feed_agrees_with_the_general_parser_on_what_clients_send(ptype: PacketType, name: str, args: List[Any],
                                                                  ack_id: Optional[int], lim: Limits) -> None:
    data = [name, *args] if ptype is T.EVENT else args
    try:
        (text,) = encode(Packet(ptype, "/", data, ack_id if ptype is T.EVENT or ack_id is not None else 0))
    except (LocalProtocolError, ValueError):
        return
    fast = outcome(lambda: Decoder(lim).feed(text))
    assert fast == outcome(lambda: Decoder(lim)._parse_text(text))


@PROPERTY
@given(st.text(alphabet='23[]{}",:0123456789eE.+-\\u/ ad\ud800é', max_size=40), limits)
def test_feed_agrees_with_the_general_parser_on_noise(text: str, lim: Limits) -> None:
    fast = outcome(lambda: Decoder(lim).feed(text))
    general = outcome(lambda: Decoder(lim)._parse_text(text))
    assert fast == general


def test_long_texts_and_custom_loads_take_the_general_path() -> None:
    long_text = '2["echo","' + "x" * 200 + '"]'
    assert Decoder().feed(long_text).data == ["echo", "x" * 200]
    seen: List[str] = []

    def loads(body: str) -> Any:
        seen.append(body)
        return json.loads(body)

    assert Decoder(loads=loads).feed('2["echo",1]').data == ["echo", 1]
    assert seen == ['["echo",1]']


def test_the_decoder_is_usable_after_every_fast_path_rejection() -> None:
    decoder = Decoder(Limits(max_json_depth=2))
    for bad in ('2[1e999]', '2["a",[[[]]]]', '2["connect"]', '2["a"', '3["a"]', '2["a","\\udc00"]'):
        with pytest.raises(RemoteProtocolError):
            decoder.feed(bad)
        assert decoder.feed('21["ok"]') == Packet(T.EVENT, "/", ["ok"], 1)


def test_readers_are_shared_per_limits() -> None:
    assert Decoder()._reader is Decoder(role="client")._reader
    assert jsonsafe.shared_reader(5, 7) is jsonsafe.shared_reader(5, 7)
    assert Decoder(Limits(max_json_depth=5))._reader is not Decoder()._reader


# --------------------------------------------------------------------------- encoder


class Unserializable:
    pass


circular: List[Any] = ["loop"]
circular.append(circular)

odd_data = st.sampled_from([
    ["e", b"\x00bin"], ["e", {"k": bytearray(b"x")}], ["e", memoryview(b"mv")], ["e", Unserializable()],
    ["e", float("nan")], ["e", float("inf")], ["e", "\ud800"], ["e", ("t", 1)], ["e", {1: "int key"}],
    ["", 1], [1, 2], [], ["e", {"k": {1, 2}}], circular, ["é\u2028"],
])
namespaces = st.sampled_from(["/", "/chat", "/a,b", "/\x00", "nope", "", 5, None, "/é"])
ack_ids = st.none() | st.sampled_from([0, 1, MAX_ACK_ID, MAX_ACK_ID + 1, -1, 1.0, True, "1"])


def encoded(fn: Callable[[], Any]) -> Tuple[str, Any]:
    try:
        return "ok", fn()
    except (LocalProtocolError, TypeError, ValueError) as exc:
        return "error", (type(exc), str(exc))


@PROPERTY
@given(st.lists(values, max_size=4) | odd_data, st.text(max_size=6) | st.sampled_from(["echo", ""]), namespaces,
       ack_ids, st.booleans())
def test_encode_event_and_ack_agree_with_encode(data: Any, name: str, namespace: Any, ack_id: Optional[int],
                                                with_name: bool) -> None:
    event_data = [name, *data] if with_name and data is not circular else data
    assert encoded(lambda: encode_event(namespace, event_data, ack_id)) == \
        encoded(lambda: encode(Packet(T.EVENT, namespace, event_data, ack_id)))
    assert encoded(lambda: encode_ack(namespace, data, ack_id)) == \
        encoded(lambda: encode(Packet(T.ACK, namespace, data, ack_id)))


def test_encoder_recovers_after_a_failure() -> None:
    # a circular reference leaves the shared markers of the prebuilt encoder dirty: they are cleared
    for _ in range(2):
        with pytest.raises(ValueError):
            encode_event("/", circular)
        with pytest.raises(ValueError):
            encode(Packet(T.EVENT, "/", circular))
    inner = ["x"]
    assert encode_event("/", ["e", inner, inner]) == ['2["e",["x"],["x"]]']
    assert encode(Packet(T.ACK, "/", [inner, {"a": inner}], 3)) == ['33[["x"],{"a":["x"]}]']


def test_encode_event_shapes() -> None:
    assert encode_event("/", ["echo", "hi"]) == ['2["echo","hi"]']
    assert encode_event("/chat", ["echo", 1], 12) == ['2/chat,12["echo",1]']
    assert encode_event("/", ["echo", b"\x01"]) == ['51-["echo",{"_placeholder":true,"num":0}]', b"\x01"]
    assert encode_ack("/", [], 0) == ["30[]"]
    assert encode_ack("/", ["a", None], 7) == ['37["a",null]']
    with pytest.raises(LocalProtocolError):
        encode_event("/", ["", 1])
    with pytest.raises(LocalProtocolError):
        encode_ack("/", [1], None)  # type: ignore[arg-type]
