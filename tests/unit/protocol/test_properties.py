"""Hypothesis properties of the Socket.IO codecs (rows C2 and C3 of the robustness plan).

C2: any packet a peer may send round-trips through encode -> Decoder, with
binary values at any depth coming back in place and in order.
C3: any input, fed whole or split into messages, either decodes or raises
RemoteProtocolError (never another exception), and the decoder stays usable.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Union

import msgpack
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from siothread.errors import RemoteProtocolError
from siothread.protocol import engineio, msgpack_codec
from siothread.protocol.binary import deconstruct, has_binary, reconstruct
from siothread.protocol.socketio import (
    MAX_ACK_ID,
    RESERVED_EVENTS,
    Decoder,
    Limits,
    Packet,
    PacketType,
    decode,
    encode,
)

# Budgets keep this file around a minute; raise max_examples locally for longer runs.
ROUND_TRIP = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_COMPOSITE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Room for every attachment the strategies below can generate.
ROOMY = Limits(max_attachments=64)
T = PacketType
GOOD = '2["still",{"usable":true}]'
GOOD_PACKET = Packet(T.EVENT, "/", ["still", {"usable": True}])

# --------------------------------------------------------------------------- strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
keys = st.text(max_size=8).filter(lambda k: k != "_placeholder")


def nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=16,
    )


json_values = nested(scalars)
binary_values = nested(scalars | st.binary(max_size=24))
dicts = st.dictionaries(keys, json_values, max_size=4)
event_names = st.text(min_size=1, max_size=40).filter(lambda name: name not in RESERVED_EVENTS)
namespaces = st.just("/") | st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=","),
    max_size=40,
).map(lambda rest: "/" + rest)
ack_ids = st.integers(min_value=0, max_value=MAX_ACK_ID)


@st.composite
def events(draw: st.DrawFn, values: st.SearchStrategy[Any] = binary_values) -> Packet:
    args = draw(st.lists(values, max_size=5))
    ptype = draw(st.sampled_from([T.EVENT, T.BINARY_EVENT]))
    return Packet(ptype, draw(namespaces), [draw(event_names), *args], draw(st.none() | ack_ids))


@st.composite
def acks(draw: st.DrawFn, values: st.SearchStrategy[Any] = binary_values) -> Packet:
    ptype = draw(st.sampled_from([T.ACK, T.BINARY_ACK]))
    return Packet(ptype, draw(namespaces), draw(st.lists(values, max_size=5)), draw(ack_ids))


def client_packets(values: st.SearchStrategy[Any] = binary_values) -> st.SearchStrategy[Packet]:
    """What a client may send (decoded with role="server")."""
    return st.one_of(
        events(values),
        acks(values),
        st.builds(Packet, st.just(T.CONNECT), namespaces, st.none() | dicts),
        st.builds(Packet, st.just(T.DISCONNECT), namespaces),
    )


def server_packets(values: st.SearchStrategy[Any] = binary_values) -> st.SearchStrategy[Packet]:
    """What a server may send (decoded with role="client")."""
    sid_payloads = st.builds(lambda sid, extra: {**extra, "sid": sid}, st.text(min_size=1, max_size=20), dicts)
    return st.one_of(
        events(values),
        acks(values),
        st.builds(Packet, st.just(T.CONNECT), namespaces, sid_payloads),
        st.builds(Packet, st.just(T.DISCONNECT), namespaces),
        st.builds(Packet, st.just(T.CONNECT_ERROR), namespaces, st.text(max_size=20) | dicts),
    )


def normalized(packet: Packet) -> Packet:
    """The packet a decoder gives back: EVENT/ACK types, lists for tuples, bytes for buffers."""
    ptype = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)
    skeleton, attachments = deconstruct(packet.data)
    return Packet(ptype, packet.namespace, reconstruct(skeleton, attachments), packet.id)


def binaries_in_order(data: Any) -> List[bytes]:
    """Binary values depth first (socket.io-parser's numbering)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return [bytes(data)]
    if isinstance(data, (list, tuple)):
        return [b for item in data for b in binaries_in_order(item)]
    if isinstance(data, dict):
        return [b for item in data.values() for b in binaries_in_order(item)]
    return []


def decode_all(messages: List[Union[str, bytes]], role: str) -> Optional[Packet]:
    decoder = Decoder(ROOMY, role=role)
    result = None
    for message in messages:
        assert result is None
        result = decoder.feed(message)
    assert not decoder.awaiting_attachments
    return result


# --------------------------------------------------------------------------- C2: round trips


@ROUND_TRIP
@given(client_packets())
def test_client_packets_round_trip(packet: Packet) -> None:
    messages = encode(packet)
    assert messages[1:] == binaries_in_order(packet.data)  # attachment order preserved
    assert isinstance(messages[0], str)
    messages[0].encode("utf-8")  # always sendable as a text frame
    assert decode_all(messages, "server") == normalized(packet)


@ROUND_TRIP
@given(server_packets())
def test_server_packets_round_trip(packet: Packet) -> None:
    assert decode_all(encode(packet), "client") == normalized(packet)


@ROUND_TRIP
@given(client_packets())
def test_custom_dumps_gives_the_same_packets(packet: Packet) -> None:
    messages = encode(packet, dumps=lambda obj: json.dumps(obj, ensure_ascii=True))
    assert decode_all(messages, "server") == normalized(packet)


@ROUND_TRIP
@given(client_packets(json_values))
def test_text_only_packets_match_decode(packet: Packet) -> None:
    (text,) = encode(packet)
    assert decode(text) == normalized(packet)
    assert not has_binary(decode(text).data)


@ROUND_TRIP
@given(binary_values)
def test_deconstruct_reconstruct(data: Any) -> None:
    skeleton, attachments = deconstruct(data)
    assert not has_binary(skeleton)
    assert attachments == binaries_in_order(data)
    assert reconstruct(skeleton, attachments) == reconstruct(*deconstruct(data))
    assert has_binary(data) == bool(attachments)


@ROUND_TRIP
@given(client_packets())
def test_msgpack_client_packets_round_trip(packet: Packet) -> None:
    (message,) = msgpack_codec.encode(packet)
    assert msgpack_codec.Decoder(role="server").feed(message) == normalized(packet)


@ROUND_TRIP
@given(server_packets())
def test_msgpack_server_packets_round_trip(packet: Packet) -> None:
    (message,) = msgpack_codec.encode(packet)
    assert msgpack_codec.Decoder(role="client").feed(message) == normalized(packet)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=16)
    | st.binary(max_size=24),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=24,
)


@ROUND_TRIP
@given(msgpack_values)
def test_exact_msgpack_reader_agrees_with_the_c_extension(value: Any) -> None:
    for single in (False, True):
        try:
            packed = msgpack.packb(value, use_bin_type=True, use_single_float=single)
        except OverflowError:  # a double beyond float32 range, single-float variant only
            continue
        assert msgpack_codec.unpack_exact(packed) == msgpack.unpackb(packed, raw=False)


# --------------------------------------------------------------------------- C3: parse or reject

TOKENS = [
    "0", "1", "2", "3", "4", "5", "6", "7", "9", "01", "10", "-", "/", ",", "[", "]", "{", "}",
    '"', ":", "\\", "\\u", "d800", "dc00", "\x1e", "\x00", " ", "\ud800", "\u00e9",
    "true", "false", "null", "NaN", "Infinity", "1.5", "e999", "9" * 20,
    '"_placeholder"', '"num"', '{"_placeholder":true,"num":0}', '{"_placeholder":true,"num":1}',
    '"x"', '"connect"', '"error"', '"sid"', '"message"', "/admin", "/a,", "51-", "52-", "61-",
]
grammar_text = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)
any_text = st.text(max_size=64) | grammar_text | st.builds(lambda p: encode(p)[0], client_packets(json_values))
messages_strategy = st.lists(any_text | st.binary(max_size=16), min_size=1, max_size=8)


def feed_checked(decoder: Decoder, message: Any) -> Optional[Packet]:
    try:
        result = decoder.feed(message)
    except RemoteProtocolError:
        assert not decoder.awaiting_attachments  # the partial packet is gone
        return None
    if result is not None:
        assert isinstance(result, Packet)
        assert result.type in (T.CONNECT, T.DISCONNECT, T.EVENT, T.ACK, T.CONNECT_ERROR)
        assert isinstance(result.namespace, str) and result.namespace.startswith("/")
        if result.type is T.EVENT:
            assert isinstance(result.event, str) and result.event not in RESERVED_EVENTS
    return result


@FUZZ
@given(st.text())
def test_any_text_parses_or_is_rejected(text: str) -> None:
    for role in ("server", "client"):
        decoder = Decoder(role=role)
        feed_checked(decoder, text)
        decoder.reset()
        assert decoder.feed(GOOD) == GOOD_PACKET


@FUZZ
@given(grammar_text)
def test_grammar_text_parses_or_is_rejected(text: str) -> None:
    for role in ("server", "client"):
        decoder = Decoder(role=role)
        feed_checked(decoder, text)
        decoder.reset()
        assert decoder.feed(GOOD) == GOOD_PACKET


@FUZZ_COMPOSITE
@given(messages_strategy)
def test_message_sequences_parse_or_are_rejected_and_the_decoder_recovers(messages: List[Any]) -> None:
    decoder = Decoder()
    for message in messages:
        feed_checked(decoder, message)
    decoder.reset()
    assert decoder.feed(GOOD) == GOOD_PACKET


@FUZZ_COMPOSITE
@given(st.lists(client_packets(), min_size=1, max_size=4), st.data())
def test_valid_streams_split_at_random_points(packets: List[Packet], data: st.DataObject) -> None:
    # The text of each encoded packet cut into pieces and fed as separate messages.
    decoder = Decoder(ROOMY)
    for packet in packets:
        text, *attachments = encode(packet)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=3)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        for piece in [*pieces, *attachments]:
            feed_checked(decoder, piece)
        decoder.reset()
    assert decoder.feed(GOOD) == GOOD_PACKET


@FUZZ_COMPOSITE
@given(st.lists(any_text, min_size=1, max_size=6))
def test_polling_payloads_parse_or_are_rejected(texts: List[str]) -> None:
    # Whole: one long-polling body of Engine.IO MESSAGE packets, then each one into the decoder.
    body = engineio.SEPARATOR.join("4" + text for text in texts)
    try:
        packets = engineio.decode_payload(body)
    except RemoteProtocolError:
        return
    decoder = Decoder()
    for packet in packets:
        if packet.type is engineio.PacketType.MESSAGE and packet.data is not None:
            feed_checked(decoder, packet.data)


@FUZZ
@given(st.binary())
def test_any_binary_parses_or_is_rejected(blob: bytes) -> None:
    for role in ("server", "client"):
        decoder = msgpack_codec.Decoder(role=role)
        try:
            packet = decoder.feed(blob)
        except RemoteProtocolError:
            continue
        assert isinstance(packet, Packet)
    with pytest.raises(RemoteProtocolError):
        Decoder().feed(blob)
    try:
        msgpack_codec.unpack_exact(blob)
    except RemoteProtocolError:
        pass


envelope_values = st.one_of(
    st.none(),
    st.integers(-3, 8),
    st.text(max_size=8),
    st.sampled_from(["/", "/admin", "", "x", "/a,b"]),
    msgpack_values,
)


@FUZZ_COMPOSITE
@given(
    st.dictionaries(
        st.sampled_from(["type", "nsp", "data", "id", "options"]) | st.text(max_size=4),
        envelope_values,
        max_size=5,
    )
    | msgpack_values
)
def test_msgpack_envelopes_parse_or_are_rejected(obj: Any) -> None:
    blob = msgpack.packb(obj, use_bin_type=True)
    for role in ("server", "client"):
        try:
            packet = msgpack_codec.Decoder(role=role).feed(blob)
        except RemoteProtocolError:
            continue
        assert isinstance(packet, Packet) and packet.namespace.startswith("/")


@FUZZ_COMPOSITE
@given(msgpack_values, st.lists(st.integers(0, 255), min_size=1, max_size=4), st.data())
def test_corrupted_msgpack_parses_or_is_rejected(value: Any, noise: List[int], data: st.DataObject) -> None:
    blob = bytearray(msgpack.packb({"type": 2, "nsp": "/", "data": ["e", value]}, use_bin_type=True))
    for byte in noise:
        blob[data.draw(st.integers(0, len(blob) - 1))] = byte
    assume(len(blob) > 0)
    for exact in (False, True):
        try:
            if exact:
                msgpack_codec.unpack_exact(bytes(blob))
            else:
                msgpack_codec.Decoder().feed(bytes(blob))
        except RemoteProtocolError:
            pass
