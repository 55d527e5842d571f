"""Property tests of the frame parser: chunking never changes the outcome, any input
either parses or fails with RemoteProtocolError, and the parser agrees with a
slow reference decoder written straight from RFC 6455 section 5."""
from __future__ import annotations

import struct
from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siothread.errors import RemoteProtocolError
from siothread.protocol.websocket import (
    Close,
    Event,
    FrameParser,
    Message,
    Opcode,
    PerMessageDeflate,
    Ping,
    Pong,
    encode_binary,
    encode_close,
    encode_frame,
    encode_ping,
    encode_pong,
    encode_text,
    is_valid_close_code,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
Outcome = Tuple[List[Event], Optional[int]]


def run(chunks: List[bytes], **kwargs: object) -> Outcome:
    """Feed chunk by chunk, draining events after each; the error's close code or None."""
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    events: List[Event] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            events.extend(parser.events())
    except RemoteProtocolError as exc:
        assert isinstance(exc.close_code, int)
        return events, exc.close_code
    return events, None


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def bytewise(data: bytes) -> List[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def xor(payload: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


# -- reference decoder -----------------------------------------------------------


def reference(data: bytes, *, masked: bool, max_size: int, max_fragments: int) -> Outcome:
    """Whole-buffer decoder following the same rules, one frame at a time, no extension."""
    events: List[Event] = []
    i = 0
    msg_op: Optional[int] = None
    parts = b""
    fragments = 0
    while True:
        if len(data) - i < 2:
            return events, None
        b0, b1 = data[i], data[i + 1]
        fin, rsv, op = b0 >> 7, (b0 >> 4) & 7, b0 & 15
        has_mask, n = b1 >> 7, b1 & 127
        if rsv:
            return events, 1002
        if op in (8, 9, 10):
            if not fin or n > 125 or (op == 8 and n == 1):
                return events, 1002
        elif op == 0:
            if msg_op is None:
                return events, 1002
        elif op in (1, 2):
            if msg_op is not None:
                return events, 1002
        else:
            return events, 1002
        if bool(has_mask) != masked:
            return events, 1002
        j = i + 2
        if n == 126:
            if len(data) < j + 2:
                return events, None
            n = int.from_bytes(data[j : j + 2], "big")
            j += 2
        elif n == 127:
            if len(data) < j + 8:
                return events, None
            n = int.from_bytes(data[j : j + 8], "big")
            if n >= 2**63:
                return events, 1002
            j += 8
        if op == 0 and fragments >= max_fragments:
            return events, 1009
        if op < 8 and (len(parts) if op == 0 else 0) + n > max_size:
            return events, 1009
        key = b""
        if masked:
            key = data[j : j + 4]
            j += 4
        if len(data) < j + n:
            return events, None
        payload = data[j : j + n]
        if masked:
            payload = xor(payload, key)
        i = j + n
        if op == 9:
            events.append(Ping(payload))
        elif op == 10:
            events.append(Pong(payload))
        elif op == 8:
            if not payload:
                events.append(Close(1005, ""))
                return events, None
            code = int.from_bytes(payload[:2], "big")
            if not is_valid_close_code(code):
                return events, 1002
            try:
                events.append(Close(code, payload[2:].decode("utf-8")))
            except UnicodeDecodeError:
                return events, 1007
            return events, None
        else:
            if op:
                msg_op, parts, fragments = op, b"", 0
            parts += payload
            fragments += 1
            if fin:
                if msg_op == 1:
                    try:
                        events.append(Message(parts.decode("utf-8")))
                    except UnicodeDecodeError:
                        return events, 1007
                else:
                    events.append(Message(parts))
                msg_op, parts, fragments = None, b"", 0


# -- strategies --------------------------------------------------------------------

def serialize(op: int, payload: bytes, fin: bool, rsv: int, masked: bool, declared: Optional[int],
              form: Optional[int], key: bytes) -> bytes:
    n = len(payload) if declared is None else declared
    if form is None or (form == 7 and n > 125) or (form == 16 and n > 65535):
        form = 7 if n < 126 else 16 if n < 65536 else 64
    mask_bit = 0x80 if masked else 0
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | op])
    if form == 7:
        head += bytes([mask_bit | n])
    elif form == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if masked:
        return head + key + xor(payload, key)
    return head + payload


close_payloads = st.one_of(
    st.just(b""),
    st.builds(
        lambda code, reason: struct.pack("!H", code) + reason,
        st.one_of(st.sampled_from([1000, 1001, 1005, 1014, 1015, 3000, 4999]), st.integers(0, 65535)),
        st.one_of(st.text(max_size=10).map(str.encode), st.binary(max_size=4)),
    ),
    st.binary(max_size=3),
)
data_payloads = st.one_of(
    st.text(max_size=30).map(str.encode), st.binary(max_size=30), st.binary(min_size=120, max_size=300)
)


@st.composite
def wild_stream(draw: st.DrawFn) -> bytes:
    """Plausible traffic: messages (1-4 fragments, control frames in between) and control
    frames, then a few header fields of a few frames mutated (opcode, FIN, RSV, MASK,
    declared length, length form), so both valid and invalid paths are explored."""
    specs: List[list] = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 2)):
            op = draw(st.sampled_from([1, 2]))
            count = draw(st.integers(1, 4))
            for k in range(count):
                specs.append([op if k == 0 else 0, draw(data_payloads), k == count - 1])
                if draw(st.integers(0, 3)) == 0:
                    specs.append([draw(st.sampled_from([9, 10])), draw(st.binary(max_size=10)), True])
        else:
            op = draw(st.sampled_from([8, 9, 10]))
            specs.append([op, draw(close_payloads if op == 8 else st.binary(max_size=125)), True])
    frames = []
    for op, payload, fin in specs:
        rsv, masked, declared, form = 0, True, None, None
        if draw(st.integers(0, 9)) == 0:
            field = draw(st.sampled_from(["op", "fin", "rsv", "mask", "length", "form"]))
            if field == "op":
                op = draw(st.integers(0, 15))
            elif field == "fin":
                fin = not fin
            elif field == "rsv":
                rsv = draw(st.integers(1, 7))
            elif field == "mask":
                masked = False
            elif field == "length":
                declared = draw(st.one_of(st.integers(0, 1100),
                                          st.sampled_from([2**16, 2**63 - 1, 2**63, 2**64 - 1])))
            else:
                form = draw(st.sampled_from([16, 64]))
        key = draw(st.binary(min_size=4, max_size=4))
        frames.append(serialize(op, payload, fin, rsv, masked, declared, form, key))
    return b"".join(frames)


wild_streams = wild_stream()
cuts = st.lists(st.integers(0, 10_000), max_size=12)


@st.composite
def valid_conversation(draw: st.DrawFn, mask: bool) -> Tuple[bytes, List[Event]]:
    """Frames our encoders produce for random messages (some fragmented) and control frames."""
    wire = b""
    expected: List[Event] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "binary", "fragmented", "ping", "pong"]))
        if kind == "text":
            text = draw(st.text(max_size=200))
            wire += encode_text(text, mask=mask)
            expected.append(Message(text))
        elif kind == "binary":
            data = draw(st.binary(max_size=2000))
            wire += encode_binary(data, mask=mask)
            expected.append(Message(data))
        elif kind == "fragmented":
            text = draw(st.text(min_size=1, max_size=100))
            raw_text = text.encode()
            cut = draw(st.integers(0, len(raw_text)))  # may cut inside a character
            wire += encode_frame(Opcode.TEXT, raw_text[:cut], fin=False, mask=mask)
            payload = draw(st.binary(max_size=10))
            wire += encode_ping(payload, mask=mask)
            expected.append(Ping(payload))
            wire += encode_frame(Opcode.CONTINUATION, raw_text[cut:], mask=mask)
            expected.append(Message(text))
        else:
            payload = draw(st.binary(max_size=125))
            wire += (encode_ping if kind == "ping" else encode_pong)(payload, mask=mask)
            expected.append((Ping if kind == "ping" else Pong)(payload))
    if draw(st.booleans()):
        code = draw(st.sampled_from([1000, 1001, 1011, 3000, 4999]))
        reason = draw(st.text(max_size=20))
        wire += encode_close(code, reason, mask=mask)
        expected.append(Close(code, reason.encode()[:123].decode("utf-8", "ignore")))
    return wire, expected


# -- properties --------------------------------------------------------------------


@pytest.mark.parametrize("mask", [True, False])
@SETTINGS
@given(data=st.data())
def test_round_trip_in_any_chunking(mask: bool, data: st.DataObject) -> None:
    wire, expected = data.draw(valid_conversation(mask))
    assert run([wire], expect_masked=mask) == (expected, None)
    assert run(split(wire, data.draw(cuts)), expect_masked=mask) == (expected, None)


@pytest.mark.parametrize("mask", [True, False])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_byte_at_a_time(mask: bool, data: st.DataObject) -> None:
    wire, expected = data.draw(valid_conversation(mask))
    assert run(bytewise(wire), expect_masked=mask) == (expected, None)


@SETTINGS
@given(stream=wild_streams, cut_points=cuts)
def test_wild_frames_match_the_reference_in_any_chunking(stream: bytes, cut_points: List[int]) -> None:
    expected = reference(stream, masked=True, max_size=1000, max_fragments=3)
    kwargs = {"max_message_size": 1000, "max_fragments": 3}
    assert run([stream], **kwargs) == expected
    assert run(split(stream, cut_points), **kwargs) == expected


@settings(max_examples=50, deadline=None)
@given(stream=wild_streams)
def test_wild_frames_byte_at_a_time(stream: bytes) -> None:
    expected = reference(stream, masked=True, max_size=1000, max_fragments=3)
    assert run(bytewise(stream), max_message_size=1000, max_fragments=3) == expected


def _server_deflate() -> PerMessageDeflate:
    agreed = PerMessageDeflate().negotiate("permessage-deflate")
    assert agreed is not None
    return agreed[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"expect_masked": False},
        {"max_message_size": 0, "max_fragments": 1},
        {"deflate": "server"},
    ],
    ids=["server", "client", "tiny-limits", "deflate"],
)
@SETTINGS
@given(blob=st.one_of(st.binary(max_size=400), wild_streams), cut_points=cuts)
def test_any_bytes_parse_or_raise_remote_protocol_error(
    kwargs: dict, blob: bytes, cut_points: List[int]
) -> None:
    if kwargs.get("deflate") == "server":
        # A fresh inflater per run: its state is part of the outcome.
        whole = run([blob], deflate=_server_deflate())
        chunked = run(split(blob, cut_points), deflate=_server_deflate())
    else:
        whole = run([blob], **kwargs)
        chunked = run(split(blob, cut_points), **kwargs)
    assert whole == chunked
    events, code = whole
    assert code in (None, 1002, 1007, 1009)
    for event in events:
        if isinstance(event, Message):
            assert type(event.data) in (str, bytes)
        elif isinstance(event, Close):
            assert event.code == 1005 or is_valid_close_code(event.code)
        else:
            assert type(event.payload) is bytes and len(event.payload) <= 125
