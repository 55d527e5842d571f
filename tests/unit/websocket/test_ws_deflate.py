"""permessage-deflate (RFC 7692): negotiation, compression, bounded inflation."""
from __future__ import annotations

import os
import zlib
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siothread.errors import LocalProtocolError, RemoteProtocolError
from siothread.protocol import ws_deflate
from siothread.protocol.websocket import (
    FrameParser,
    Message,
    Opcode,
    encode_binary,
    encode_frame,
    encode_text,
)
from siothread.protocol.ws_deflate import PerMessageDeflate, parse_extension_header


def pair(
    offer_from: Optional[PerMessageDeflate] = None, server: Optional[PerMessageDeflate] = None
) -> Tuple[PerMessageDeflate, PerMessageDeflate]:
    """(server, client) agreed through the real offer/negotiate/accept_response exchange."""
    client_template = offer_from or PerMessageDeflate(threshold=0)
    negotiated = (server or PerMessageDeflate(threshold=0)).negotiate(client_template.offer())
    assert negotiated is not None
    response, agreed_server = negotiated
    return agreed_server, client_template.accept_response(response)


def deliver(frame: bytes, parser: FrameParser) -> List[Any]:
    parser.feed(frame)
    return list(parser.events())


# -- header parsing -----------------------------------------------------------------


def test_parse_extension_header() -> None:
    assert parse_extension_header(
        'permessage-deflate; client_max_window_bits, Permessage-Deflate ; Server_Max_Window_Bits="10",'
        " x-webkit-deflate-frame, bad name; a=b"
    ) == [
        ("permessage-deflate", [("client_max_window_bits", None)]),
        ("permessage-deflate", [("server_max_window_bits", "10")]),
        ("x-webkit-deflate-frame", []),
        None,
    ]
    assert parse_extension_header("") == []
    assert parse_extension_header('a; b="\\1\\0"') == [("a", [("b", "10")])]
    assert parse_extension_header('a; b="1 0"') == [None]
    assert parse_extension_header("a; =1") == [None]


# -- server negotiation: (offer, server settings, expected response or None) ----------

NEGOTIATION = [
    ("permessage-deflate", {}, "permessage-deflate"),
    ("permessage-deflate; client_max_window_bits", {}, "permessage-deflate"),
    ("permessage-deflate; client_max_window_bits=10", {}, "permessage-deflate; client_max_window_bits=10"),
    ("permessage-deflate; server_max_window_bits=10", {}, "permessage-deflate; server_max_window_bits=10"),
    ("permessage-deflate; server_max_window_bits=15", {}, "permessage-deflate; server_max_window_bits=15"),
    ('permessage-deflate; server_max_window_bits="12"', {}, "permessage-deflate; server_max_window_bits=12"),
    ("permessage-deflate; server_no_context_takeover; client_no_context_takeover", {},
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    ("permessage-deflate", {"server_no_context_takeover": True},
     "permessage-deflate; server_no_context_takeover"),
    ("permessage-deflate", {"client_no_context_takeover": True},
     "permessage-deflate; client_no_context_takeover"),
    ("permessage-deflate", {"server_max_window_bits": 11}, "permessage-deflate; server_max_window_bits=11"),
    ("permessage-deflate; server_max_window_bits=12", {"server_max_window_bits": 10},
     "permessage-deflate; server_max_window_bits=10"),
    ("permessage-deflate; client_max_window_bits", {"client_max_window_bits": 10},
     "permessage-deflate; client_max_window_bits=10"),
    ("permessage-deflate; client_max_window_bits=9", {"client_max_window_bits": 12},
     "permessage-deflate; client_max_window_bits=9"),
    # A server that limits the client window declines offers that do not allow it.
    ("permessage-deflate", {"client_max_window_bits": 10}, None),
    # Invalid offers are declined; a later valid one is taken.
    ("permessage-deflate; foo", {}, None),
    ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, None),
    ("permessage-deflate; server_max_window_bits", {}, None),
    ("permessage-deflate; server_max_window_bits=7", {}, None),
    ("permessage-deflate; server_max_window_bits=16", {}, None),
    ("permessage-deflate; server_max_window_bits=010", {}, None),
    ("permessage-deflate; client_max_window_bits=abc", {}, None),
    ("permessage-deflate; client_no_context_takeover=1", {}, None),
    ("permessage-deflate; foo, permessage-deflate; client_max_window_bits",
     {}, "permessage-deflate"),
    ("x-webkit-deflate-frame, permessage-deflate", {}, "permessage-deflate"),
    ("x-webkit-deflate-frame", {}, None),
    (";;,,==", {}, None),
    ("", {}, None),
]


def test_server_negotiation() -> None:
    failures = []
    for offer, settings_, expected in NEGOTIATION:
        result = PerMessageDeflate(**settings_).negotiate(offer)
        got = None if result is None else result[0]
        if got != expected or (result is not None and result[1].is_server is not True):
            failures.append(f"{offer!r} with {settings_}: expected {expected!r}, got {got!r}")
    assert not failures, "\n".join(failures)


def test_client_offer() -> None:
    assert PerMessageDeflate().offer() == "permessage-deflate; client_max_window_bits"
    assert (
        PerMessageDeflate(client_max_window_bits=10).offer()
        == "permessage-deflate; client_max_window_bits=10"
    )
    assert PerMessageDeflate(
        server_max_window_bits=12, server_no_context_takeover=True, client_no_context_takeover=True
    ).offer() == (
        "permessage-deflate; client_max_window_bits; server_max_window_bits=12; "
        "server_no_context_takeover; client_no_context_takeover"
    )


def test_client_rejects_bad_responses() -> None:
    for settings_, response in [
        ({}, "permessage-deflate, permessage-deflate"),
        ({}, "x-webkit-deflate-frame"),
        ({}, "permessage-deflate; foo"),
        ({}, "permessage-deflate; client_max_window_bits"),
        ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=11"),
        ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=12"),
        ({"server_max_window_bits": 10}, "permessage-deflate"),
        ({"server_no_context_takeover": True}, "permessage-deflate"),
        ({}, "permessage-deflate; server_max_window_bits=7"),
        ({}, ""),
    ]:
        with pytest.raises(RemoteProtocolError):
            PerMessageDeflate(**settings_).accept_response(response)


def test_client_accepts_limits_from_the_server() -> None:
    agreed = PerMessageDeflate().accept_response(
        "permessage-deflate; client_max_window_bits=9; server_no_context_takeover"
    )
    assert agreed.is_server is False
    assert "out_window_bits=9" in agreed.agreed and "in_no_context_takeover=True" in agreed.agreed


def test_settings_are_validated() -> None:
    for kwargs in [{"server_max_window_bits": 7}, {"client_max_window_bits": 16}, {"level": 10},
                   {"mem_level": 0}, {"threshold": -1}]:
        with pytest.raises(ValueError):
            PerMessageDeflate(**kwargs)


def test_template_cannot_compress() -> None:
    with pytest.raises(LocalProtocolError):
        PerMessageDeflate().compress(b"x")
    with pytest.raises(LocalProtocolError):
        PerMessageDeflate().decompress(b"x", 10)


# -- compression -------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=3000)), min_size=1, max_size=5),
    server_nct=st.booleans(),
    client_nct=st.booleans(),
    bits=st.sampled_from([9, 12, 15]),
)
def test_round_trip_both_directions(
    messages: List[Any], server_nct: bool, client_nct: bool, bits: int
) -> None:
    client_template = PerMessageDeflate(
        threshold=0, client_no_context_takeover=client_nct, client_max_window_bits=bits
    )
    server_template = PerMessageDeflate(
        threshold=0, server_no_context_takeover=server_nct, server_max_window_bits=bits
    )
    server, client = pair(client_template, server_template)
    server_parser = FrameParser(expect_masked=True, deflate=server)
    client_parser = FrameParser(expect_masked=False, deflate=client)
    for message in messages:
        encode = encode_text if isinstance(message, str) else encode_binary
        up = encode(message, deflate=client, mask=True)
        assert up[0] & 0x40  # RSV1: compressed
        assert deliver(up, server_parser) == [Message(message)]
        down = encode(message, deflate=server)
        assert deliver(down, client_parser) == [Message(message)]


def test_context_takeover_across_messages() -> None:
    server, client = pair()
    parser = FrameParser(expect_masked=False, deflate=client)
    text = "the same sentence, again and again, " * 20
    first, second = encode_text(text, deflate=server), encode_text(text, deflate=server)
    # The second message refers back to the first: far smaller.
    assert len(second) < len(first) // 2
    assert deliver(first + second, parser) == [Message(text), Message(text)]


def test_no_context_takeover_makes_messages_independent() -> None:
    server, client = pair(server=PerMessageDeflate(threshold=0, server_no_context_takeover=True))
    text = "the same sentence, again and again, " * 20
    first, second = encode_text(text, deflate=server), encode_text(text, deflate=server)
    assert first == second
    # Each inflates on its own (an inflater without history would fail on a back-reference).
    assert zlib.decompressobj(-15).decompress(second[2:] + b"\x00\x00\xff\xff") == text.encode()
    parser = FrameParser(expect_masked=False, deflate=client)
    assert deliver(first + second, parser) == [Message(text), Message(text)]


def test_server_honours_client_no_context_takeover() -> None:
    # The server agreed to client_no_context_takeover and drops its inflater
    # after each message, so a client that keeps its context breaks the stream.
    server, _ = pair(PerMessageDeflate(threshold=0, client_no_context_takeover=True))
    misbehaving = zlib.compressobj(6, zlib.DEFLATED, -15)
    text = b"the same sentence, again and again, " * 20
    parser = FrameParser(deflate=server)
    for expected_ok in (True, False):
        body = misbehaving.compress(text) + misbehaving.flush(zlib.Z_SYNC_FLUSH)
        frame = encode_frame(Opcode.BINARY, body[:-4], rsv1=True, mask=True)
        if expected_ok:
            assert deliver(frame, parser) == [Message(text)]
        else:
            with pytest.raises(RemoteProtocolError) as info:
                deliver(frame, parser)
            assert info.value.close_code == 1007


def test_threshold_and_uncompressed_messages() -> None:
    server, client = pair(server=PerMessageDeflate(threshold=100))
    small, big = encode_text("x" * 99, deflate=server), encode_text("x" * 100, deflate=server)
    assert not small[0] & 0x40 and big[0] & 0x40
    parser = FrameParser(expect_masked=False, deflate=client)
    assert deliver(small + big, parser) == [Message("x" * 99), Message("x" * 100)]


def test_window_of_8_bits_means_uncompressed_outbound() -> None:
    result = PerMessageDeflate(threshold=0).negotiate("permessage-deflate; server_max_window_bits=8")
    assert result is not None
    response, server = result
    assert response == "permessage-deflate; server_max_window_bits=8"
    assert not server.can_compress
    frame = encode_text("hello", deflate=server)
    assert not frame[0] & 0x40
    with pytest.raises(LocalProtocolError):
        server.compress(b"hello")
    client = PerMessageDeflate(server_max_window_bits=8).accept_response(response)
    assert deliver(frame, FrameParser(expect_masked=False, deflate=client)) == [Message("hello")]


def test_fragmented_compressed_message() -> None:
    server, client = pair()
    body = client.compress(b"hello fragmented world" * 10)
    frames = (
        encode_frame(Opcode.BINARY, body[:5], fin=False, rsv1=True, mask=True)
        + encode_frame(Opcode.CONTINUATION, body[5:9], fin=False, mask=True)
        + encode_frame(Opcode.CONTINUATION, body[9:], mask=True)
    )
    assert deliver(frames, FrameParser(deflate=server)) == [Message(b"hello fragmented world" * 10)]


def test_final_block_then_next_message() -> None:
    # A peer may end the deflate stream (BFINAL); the next message starts a new one.
    server, _ = pair()
    parser = FrameParser(deflate=server)
    for text in (b"first message", b"second message"):
        finished = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = finished.compress(text) + finished.flush(zlib.Z_FINISH)
        assert deliver(encode_frame(Opcode.BINARY, body, rsv1=True, mask=True), parser) == [Message(text)]


def test_invalid_deflate_data_is_1007() -> None:
    for body in (b"\xff\xff\xff\xff", zlib.compress(b"zlib header, not raw deflate")):
        server, _ = pair()
        with pytest.raises(RemoteProtocolError) as info:
            deliver(encode_frame(Opcode.BINARY, body, rsv1=True, mask=True), FrameParser(deflate=server))
        assert info.value.close_code == 1007


def test_data_after_final_block_is_1007() -> None:
    server, _ = pair()
    finished = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = finished.compress(b"x") + finished.flush(zlib.Z_FINISH) + b"trailing"
    with pytest.raises(RemoteProtocolError) as info:
        deliver(encode_frame(Opcode.BINARY, body, rsv1=True, mask=True), FrameParser(deflate=server))
    assert info.value.close_code == 1007


def test_inflated_size_limit_is_exact() -> None:
    server, client = pair()
    parser = FrameParser(deflate=server, max_message_size=1000)
    assert deliver(encode_binary(b"a" * 1000, deflate=client, mask=True), parser) == [Message(b"a" * 1000)]
    with pytest.raises(RemoteProtocolError) as info:
        deliver(encode_binary(b"a" * 1001, deflate=client, mask=True), parser)
    assert info.value.close_code == 1009


def test_incompressible_message_of_max_size_is_accepted() -> None:
    # Compressed, it is a little larger than the limit on the wire; inflated, it fits.
    server, client = pair()
    payload = os.urandom(100_000)
    frame = encode_binary(payload, deflate=client, mask=True)
    assert len(frame) > 100_000 + 14
    assert deliver(frame, FrameParser(deflate=server, max_message_size=100_000)) == [Message(payload)]


_REAL_DECOMPRESSOBJ = zlib.decompressobj


class _SpyInflater:
    """Wraps a zlib decompressobj and records how many bytes it produced."""

    produced = 0
    max_lengths: List[int] = []

    def __init__(self, wbits: int) -> None:
        self._real = _REAL_DECOMPRESSOBJ(wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        _SpyInflater.max_lengths.append(max_length)
        out = self._real.decompress(data, max_length)
        _SpyInflater.produced += len(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize("fragments", [1, 3])
def test_deflate_bomb_is_rejected_without_inflating_it(
    monkeypatch: pytest.MonkeyPatch, fragments: int
) -> None:
    server, _ = pair()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(10_000_000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]
    assert len(bomb) < 20_000
    monkeypatch.setattr(_SpyInflater, "produced", 0)
    monkeypatch.setattr(_SpyInflater, "max_lengths", [])
    monkeypatch.setattr(ws_deflate.zlib, "decompressobj", _SpyInflater)
    step = len(bomb) // fragments + 1
    pieces = [bomb[i : i + step] for i in range(0, len(bomb), step)]
    frames = b"".join(
        encode_frame(Opcode.BINARY if i == 0 else Opcode.CONTINUATION, piece,
                     fin=i == len(pieces) - 1, rsv1=i == 0, mask=True)
        for i, piece in enumerate(pieces)
    )
    parser = FrameParser(deflate=server, max_message_size=1_000_000)
    with pytest.raises(RemoteProtocolError) as info:
        deliver(frames, parser)
    assert info.value.close_code == 1009
    assert _SpyInflater.max_lengths and all(0 < n <= 1_000_001 for n in _SpyInflater.max_lengths)
    assert _SpyInflater.produced <= 1_000_001
