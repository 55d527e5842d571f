"""Table tests of the RFC 6455 frame parser and encoders (siothread.protocol.websocket)."""
from __future__ import annotations

import os
import struct
from typing import Any, Callable, List, Optional, Sequence, Tuple

import pytest

from siothread.errors import CloseCode, LocalProtocolError, RemoteProtocolError
from siothread.protocol import websocket as ws
from siothread.protocol.websocket import (
    Close,
    FrameParser,
    Message,
    Opcode,
    Ping,
    Pong,
    encode_binary,
    encode_close,
    encode_frame,
    encode_ping,
    encode_pong,
    encode_text,
)

KEY = b"\x37\xfa\x21\x3d"


def xor(payload: bytes, key: bytes) -> bytes:
    """Reference masking, byte by byte (independent of the implementation under test)."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def raw(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    key: bytes = KEY,
    length: Optional[int] = None,
    form: Optional[int] = None,
) -> bytes:
    """A frame built by hand: ``rsv`` is the 3 RSV bits (4 = RSV1), ``form`` forces the
    7-, 16- or 64-bit length encoding, ``length`` overrides the declared length."""
    n = len(payload) if length is None else length
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    mask_bit = 0x80 if masked else 0
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    if form == 7:
        head += bytes([mask_bit | n])
    elif form == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if masked:
        return head + key + xor(payload, key)
    return head + payload


def table(cases: Sequence[Tuple[Any, ...]], check: Callable[..., None]) -> None:
    """Run ``check(*case[1:])`` for every named case; report every failing case at once.

    (One test item per table rather than per row: the suite-wide leak check
    costs ~0.2 s per item.)"""
    failures = []
    for name, *args in cases:
        try:
            check(*args)
        except (Exception, pytest.fail.Exception) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def parse(data: bytes, **kwargs: object) -> List[ws.Event]:
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    parser.feed(data)
    return list(parser.events())


def error_of(data: bytes, **kwargs: object) -> RemoteProtocolError:
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    parser.feed(data)
    with pytest.raises(RemoteProtocolError) as info:
        list(parser.events())
    return info.value


# -- valid input -------------------------------------------------------------


def test_binary_sizes_at_length_form_boundaries() -> None:
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = os.urandom(size)
        assert parse(raw(Opcode.BINARY, payload)) == [Message(payload)], size


def test_text_messages() -> None:
    for text in ("", "x", "héllo wörld", "€" * 50, "😀" * 40):
        events = parse(raw(Opcode.TEXT, text.encode()))
        assert events == [Message(text)]
        assert isinstance(events[0], Message) and type(events[0].data) is str


def test_binary_data_is_bytes_not_bytearray() -> None:
    (event,) = parse(raw(Opcode.BINARY, b"ab", fin=False) + raw(Opcode.CONTINUATION, b"cd"))
    assert isinstance(event, Message) and type(event.data) is bytes and event.data == b"abcd"


def test_non_minimal_length_encodings_are_accepted() -> None:
    assert parse(raw(Opcode.TEXT, b"hello", form=16)) == [Message("hello")]
    assert parse(raw(Opcode.TEXT, b"hello", form=64)) == [Message("hello")]


def test_client_role_reads_unmasked_frames() -> None:
    data = raw(Opcode.TEXT, b"hi", masked=False) + raw(Opcode.PING, b"p", masked=False)
    assert parse(data, expect_masked=False) == [Message("hi"), Ping(b"p")]


def test_fragmented_message_with_interleaved_control_frames() -> None:
    data = (
        raw(Opcode.TEXT, b"Hel", fin=False)
        + raw(Opcode.PING, b"1")
        + raw(Opcode.CONTINUATION, b"", fin=False)
        + raw(Opcode.PONG, b"2")
        + raw(Opcode.CONTINUATION, b"lo")
        + raw(Opcode.BINARY, b"\x00")
    )
    assert parse(data) == [Ping(b"1"), Pong(b"2"), Message("Hello"), Message(b"\x00")]


def test_utf8_character_split_across_fragments() -> None:
    encoded = "€".encode()
    data = raw(Opcode.TEXT, encoded[:1], fin=False) + raw(Opcode.CONTINUATION, encoded[1:])
    assert parse(data) == [Message("€")]


def test_close_frames() -> None:
    for payload, expected in [
        (b"", Close(1005, "")),
        (b"\x03\xe8", Close(1000, "")),
        (b"\x03\xe9bye", Close(1001, "bye")),
        (b"\x0f\xa0" + "ü".encode(), Close(4000, "ü")),
    ]:
        (event,) = parse(raw(Opcode.CLOSE, payload))
        assert event == expected and isinstance(event, Close) and type(event.code) is int


def test_valid_close_codes() -> None:
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                 4000, 4999):
        assert parse(raw(Opcode.CLOSE, struct.pack("!H", code))) == [Close(code, "")], code


def test_control_frame_payload_of_125_bytes() -> None:
    assert parse(raw(Opcode.PING, b"x" * 125)) == [Ping(b"x" * 125)]


def test_message_of_exactly_max_size_and_fragments_at_the_caps() -> None:
    assert parse(raw(Opcode.BINARY, b"x" * 100), max_message_size=100) == [Message(b"x" * 100)]
    data = raw(Opcode.BINARY, b"x" * 50, fin=False) + raw(Opcode.CONTINUATION, b"y" * 50)
    assert parse(data, max_message_size=100) == [Message(b"x" * 50 + b"y" * 50)]
    frames = raw(Opcode.TEXT, b"a", fin=False) + raw(Opcode.CONTINUATION, b"b", fin=False)
    frames += raw(Opcode.CONTINUATION, b"c")
    assert parse(frames, max_fragments=3) == [Message("abc")]


# -- the RFC 6455 section 5.7 examples -----------------------------------------


RFC_EXAMPLES = [
    (False, bytes.fromhex("810548656c6c6f"), [Message("Hello")]),
    (True, bytes.fromhex("818537fa213d7f9f4d5158"), [Message("Hello")]),
    (False, bytes.fromhex("010348656c80026c6f"), [Message("Hello")]),
    (False, bytes.fromhex("890548656c6c6f"), [Ping(b"Hello")]),
    (False, bytes.fromhex("8a0548656c6c6f"), [Pong(b"Hello")]),
    (True, bytes.fromhex("8a8537fa213d7f9f4d5158"), [Pong(b"Hello")]),
    (False, bytes.fromhex("827e0100") + bytes(256), [Message(bytes(256))]),
    (False, bytes.fromhex("827f0000000000010000") + bytes(65536), [Message(bytes(65536))]),
]


def test_rfc6455_examples_parse() -> None:
    def check(masked: bool, wire: bytes, expected: List[ws.Event]) -> None:
        assert parse(wire, expect_masked=masked) == expected

    table([(wire[:4].hex(), *case) for case in RFC_EXAMPLES for wire in [case[1]]], check)


def test_rfc6455_examples_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws.os, "urandom", lambda n: KEY[:n])
    assert encode_text("Hello") == bytes.fromhex("810548656c6c6f")
    assert encode_text("Hello", mask=True) == bytes.fromhex("818537fa213d7f9f4d5158")
    fragmented = encode_frame(Opcode.TEXT, b"Hel", fin=False) + encode_frame(Opcode.CONTINUATION, b"lo")
    assert fragmented == bytes.fromhex("010348656c80026c6f")
    assert encode_ping(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert encode_pong(b"Hello", mask=True) == bytes.fromhex("8a8537fa213d7f9f4d5158")
    assert encode_binary(bytes(256)) == bytes.fromhex("827e0100") + bytes(256)
    assert encode_binary(bytes(65536)) == bytes.fromhex("827f0000000000010000") + bytes(65536)


# -- protocol violations: (name, bytes, parser kwargs, close code) ------------------


def _deflate_server() -> ws.PerMessageDeflate:
    agreed = ws.PerMessageDeflate().negotiate("permessage-deflate")
    assert agreed is not None
    return agreed[1]


VIOLATIONS = [
    ("unmasked client frame", raw(Opcode.TEXT, b"x", masked=False), {}, 1002),
    ("masked server frame", raw(Opcode.TEXT, b"x"), {"expect_masked": False}, 1002),
    ("rsv1 without extension", raw(Opcode.TEXT, b"x", rsv=4), {}, 1002),
    ("rsv2", raw(Opcode.TEXT, b"x", rsv=2), {}, 1002),
    ("rsv3", raw(Opcode.TEXT, b"x", rsv=1), {}, 1002),
    ("rsv2 with deflate", raw(Opcode.TEXT, b"x", rsv=2), {"deflate": "server"}, 1002),
    ("rsv1 on continuation", raw(Opcode.TEXT, b"x", fin=False) + raw(0, b"x", rsv=4),
     {"deflate": "server"}, 1002),
    ("rsv1 on ping", raw(Opcode.PING, b"x", rsv=4), {"deflate": "server"}, 1002),
    ("rsv1 on close", raw(Opcode.CLOSE, b"", rsv=4), {"deflate": "server"}, 1002),
    *[(f"opcode {op}", raw(op, b"x"), {}, 1002) for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
    ("fragmented ping", raw(Opcode.PING, b"x", fin=False), {}, 1002),
    ("fragmented close", raw(Opcode.CLOSE, b"", fin=False), {}, 1002),
    ("ping of 126 bytes", raw(Opcode.PING, b"x" * 126), {}, 1002),
    ("pong of 126 bytes in the 64-bit form", raw(Opcode.PONG, b"x" * 126, form=64), {}, 1002),
    ("close of 1 byte", raw(Opcode.CLOSE, b"\x03"), {}, 1002),
    *[(f"close code {c}", raw(Opcode.CLOSE, struct.pack("!H", c)), {}, 1002)
      for c in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)],
    ("close reason not utf-8", raw(Opcode.CLOSE, b"\x03\xe8\xff"), {}, 1007),
    ("continuation first", raw(0, b"x"), {}, 1002),
    ("text inside fragmented text", raw(1, b"a", fin=False) + raw(1, b"b"), {}, 1002),
    ("binary inside fragmented text", raw(1, b"a", fin=False) + raw(2, b"b"), {}, 1002),
    ("continuation after complete message", raw(1, b"a") + raw(0, b"b"), {}, 1002),
    ("text not utf-8", raw(1, b"\xff"), {}, 1007),
    ("overlong encoding", raw(1, b"\xc0\xaf"), {}, 1007),
    ("utf-16 surrogate", raw(1, b"\xed\xa0\x80"), {}, 1007),
    ("beyond U+10FFFF", raw(1, b"\xf4\x90\x80\x80"), {}, 1007),
    ("truncated character", raw(1, "€".encode()[:2]), {}, 1007),
    ("invalid fragmented text", raw(1, b"ok", fin=False) + raw(0, b"\xff"), {}, 1007),
    ("text cut inside a character at the end", raw(1, b"a", fin=False) + raw(0, "€".encode()[:1]), {}, 1007),
]


def test_protocol_violations() -> None:
    def check(data: bytes, kwargs: dict, code: int) -> None:
        if kwargs.get("deflate") == "server":
            kwargs = {**kwargs, "deflate": _deflate_server()}
        err = error_of(data, **kwargs)
        assert err.close_code == code
        assert type(err.close_code) is int

    table(VIOLATIONS, check)


HEADER_ONLY = [
    # (name, the bytes a peer sends, kwargs, close code): every check fires without any payload.
    ("64-bit length with MSB set", b"\x82\xff" + struct.pack("!Q", 1 << 63), {}, 1002),
    ("64-bit length 2**64-1", b"\x82\xff" + b"\xff" * 8, {}, 1002),
    ("length 2**63-1", b"\x82\xff" + struct.pack("!Q", 2**63 - 1), {}, 1009),
    ("one byte over the max", b"\x82\xfe" + struct.pack("!H", 101), {"max_message_size": 100}, 1009),
    ("default max (1 MB) + 1", b"\x82\xff" + struct.pack("!Q", 1_000_001), {}, 1009),
    ("cumulative over the max",
     raw(2, b"x" * 60, fin=False) + b"\x80\xfe" + struct.pack("!H", 41), {"max_message_size": 100}, 1009),
    ("unknown opcode from 2 bytes", b"\x83\x80", {}, 1002),
    ("unmasked from 2 bytes", b"\x82\x05", {}, 1002),
    ("control over 125 from 2 bytes", b"\x89\xfe", {}, 1002),
]


def test_header_checks_fire_before_any_payload_is_buffered() -> None:
    def check(data: bytes, kwargs: dict, code: int) -> None:
        parser = FrameParser(**kwargs)
        parser.feed(data)  # the header; the payload (and maybe the mask key) never arrives
        with pytest.raises(RemoteProtocolError) as info:
            parser.next_event()
        assert info.value.close_code == code

    table(HEADER_ONLY, check)


def test_too_many_fragments_is_1009() -> None:
    # E8: 10,000 one-byte fragments without FIN.
    parser = FrameParser()
    parser.feed(raw(Opcode.BINARY, b"x", fin=False))
    fragment = raw(Opcode.CONTINUATION, b"x", fin=False)
    for _ in range(ws.DEFAULT_MAX_FRAGMENTS - 1):
        parser.feed(fragment)
        assert parser.next_event() is None
    parser.feed(fragment)
    with pytest.raises(RemoteProtocolError) as info:
        parser.next_event()
    assert info.value.close_code == CloseCode.MESSAGE_TOO_BIG


def test_too_many_empty_fragments() -> None:
    data = raw(Opcode.TEXT, b"", fin=False) + raw(Opcode.CONTINUATION, b"", fin=False) * 5
    assert error_of(data, max_fragments=5).close_code == 1009
    assert parse(data + raw(Opcode.CONTINUATION, b"!"), max_fragments=7) == [Message("!")]


def test_error_is_final() -> None:
    parser = FrameParser()
    parser.feed(raw(Opcode.TEXT, b"ok") + raw(Opcode.TEXT, b"x", masked=False) + raw(Opcode.TEXT, b"later"))
    events = parser.events()
    assert next(events) == Message("ok")
    with pytest.raises(RemoteProtocolError) as first:
        next(events)
    parser.feed(raw(Opcode.TEXT, b"more"))
    assert parser.buffered == 0
    with pytest.raises(RemoteProtocolError) as again:
        parser.next_event()
    assert again.value is first.value
    with pytest.raises(RemoteProtocolError):
        list(parser.events())


def test_parser_is_finished_after_close() -> None:
    parser = FrameParser()
    parser.feed(raw(Opcode.TEXT, b"a", fin=False) + raw(Opcode.CLOSE, b"\x03\xe8") + raw(Opcode.TEXT, b"b"))
    assert list(parser.events()) == [Close(1000, "")]
    assert parser.closed and not parser.message_in_progress
    assert parser.buffered == 0
    parser.feed(raw(Opcode.TEXT, b"c"))
    assert parser.buffered == 0
    assert parser.next_event() is None


def test_bytes_needed_and_buffered() -> None:
    frame = raw(Opcode.BINARY, b"x" * 300)  # 4-byte header + 4-byte key + 300
    parser = FrameParser()
    assert parser.next_event() is None and parser.bytes_needed == 2
    parser.feed(frame[:1])
    assert parser.next_event() is None and parser.bytes_needed == 1
    parser.feed(frame[1:3])
    assert parser.next_event() is None and parser.bytes_needed == 1
    parser.feed(frame[3:10])
    assert parser.next_event() is None and parser.bytes_needed == 298
    assert parser.buffered == 10
    parser.feed(frame[10:])
    assert parser.next_event() == Message(b"x" * 300)
    assert parser.buffered == 0


def test_many_small_frames_from_one_chunk_and_bounded_buffer() -> None:
    frame = raw(Opcode.TEXT, b"4" + b"x" * 20)
    stream = frame * 5000
    parser = FrameParser()
    count = 0
    largest = 0
    for i in range(0, len(stream), 65536):
        parser.feed(stream[i : i + 65536])
        count += sum(1 for _ in parser.events())
        largest = max(largest, len(parser._buf))
        assert parser.buffered < len(frame)
    assert count == 5000
    # Consumed frames are compacted away on the next feed: the buffer never
    # holds more than one chunk plus one partial frame.
    assert largest <= 65536 + len(frame)


def test_events_and_next_event_agree() -> None:
    data = raw(1, b"a") + raw(9, b"") + raw(2, b"b", fin=False) + raw(0, b"c") + raw(8, b"")
    parser = FrameParser()
    parser.feed(data)
    one_by_one = []
    while True:
        event = parser.next_event()
        if event is None:
            break
        one_by_one.append(event)
    assert one_by_one == parse(data) == [Message("a"), Ping(b""), Message(b"bc"), Close(1005, "")]


def test_constructor_rejects_bad_arguments() -> None:
    for kwargs in [{"max_message_size": -1}, {"max_message_size": 2**62}, {"max_fragments": 0},
                   {"max_message_size": 1.5}, {"deflate": ws.PerMessageDeflate()}]:
        with pytest.raises(ValueError):
            FrameParser(**kwargs)  # type: ignore[arg-type]


def test_deflate_role_must_match() -> None:
    with pytest.raises(ValueError):
        FrameParser(expect_masked=False, deflate=_deflate_server())


# -- encoders ----------------------------------------------------------------------


@pytest.mark.parametrize("mask", [False, True])
def test_encode_frame_header_sizes(mask: bool) -> None:
    for size, header in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]:
        payload = os.urandom(size)
        frame = encode_frame(Opcode.BINARY, payload, mask=mask)
        assert type(frame) is bytes
        assert len(frame) == header + (4 if mask else 0) + size
        assert parse(frame, expect_masked=mask) == [Message(payload)]


def test_encode_frame_flags() -> None:
    assert encode_frame(Opcode.TEXT, b"", fin=False)[0] == 0x01
    assert encode_frame(Opcode.BINARY, b"", rsv1=True)[0] == 0xC2
    assert encode_frame(Opcode.CONTINUATION, b"")[0] == 0x80
    assert encode_frame(Opcode.BINARY, memoryview(b"abc")) == b"\x82\x03abc"
    assert encode_frame(Opcode.BINARY, bytearray(b"abc")) == b"\x82\x03abc"


def test_masking_uses_a_fresh_key_per_frame() -> None:
    first, second = encode_binary(b"same", mask=True), encode_binary(b"same", mask=True)
    assert first[2:6] != second[2:6]
    assert first[6:] == xor(b"same", first[2:6])


def test_large_masked_payload_matches_reference_xor(monkeypatch: pytest.MonkeyPatch) -> None:
    key = b"\x01\x80\xfe\x7f"
    monkeypatch.setattr(ws.os, "urandom", lambda n: key[:n])
    for size in (1023, 1024, 1025, 4099):
        payload = os.urandom(size)
        frame = encode_binary(payload, mask=True)
        assert frame.endswith(xor(payload, key))


def test_encoder_misuse_is_a_local_error() -> None:
    def check(call: Callable[[], object]) -> None:
        with pytest.raises(LocalProtocolError):
            call()

    table(
        [
            ("ping of 126", lambda: encode_frame(Opcode.PING, b"x" * 126)),
            ("fragmented ping", lambda: encode_frame(Opcode.PING, b"", fin=False)),
            ("compressed close", lambda: encode_frame(Opcode.CLOSE, b"", rsv1=True)),
            ("opcode 3", lambda: encode_frame(3, b"")),  # type: ignore[arg-type]
            ("reason without code", lambda: encode_close(1005, "reason")),
            ("close 1006", lambda: encode_close(1006)),
            ("close 999", lambda: encode_close(999)),
            ("lone surrogate", lambda: encode_text("\ud800")),
        ],
        check,
    )


def test_encode_close() -> None:
    assert encode_close() == b"\x88\x02\x03\xe8"
    assert encode_close(1005) == b"\x88\x00"
    assert parse(encode_close(4001, "bye", mask=True)) == [Close(4001, "bye")]
    # A long reason is cut at a character boundary to fit 123 bytes.
    (event,) = parse(encode_close(1000, "é" * 100, mask=True))
    assert isinstance(event, Close) and event.reason == "é" * 61


def test_feed_copies_and_does_not_alter_the_callers_buffer() -> None:
    payload = os.urandom(5000)
    frame = bytearray(raw(Opcode.BINARY, payload))
    copy = bytes(frame)
    parser = FrameParser()
    parser.feed(frame)
    parser.feed(memoryview(raw(Opcode.TEXT, b"mv")))
    frame[10:20] = bytes(10)  # the caller reuses its buffer before the parser runs
    assert list(parser.events()) == [Message(payload), Message("mv")]
    frame[10:20] = copy[10:20]
    assert frame == copy
