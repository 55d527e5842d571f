"""E8: hostile WebSocket frames on a raw socket, under both WebSocket-capable handlers.

Expected: the close code RFC 6455 names (1009 too big, 1007 bad UTF-8, 1002
protocol error) sent *before* the server buffers what it would reject (a frame
announcing 2**63-1 bytes is refused on its header); the session ends once with
a reason; nothing leaks (the conftest leak check).
"""
from __future__ import annotations

import socket
import time
import zlib

import pytest

from robust_helpers import frame, ws_open_raw

CAP = 100_000
OPTS = dict(max_http_buffer_size=CAP, ping_interval=5, ping_timeout=5)


@pytest.fixture(params=["siothread", "geventwebsocket"])
def handler(request):
    return request.param


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send, tolerating a server that already closed (it may refuse mid-stream)."""
    try:
        sock.sendall(data)
    except OSError:
        pass


def expect_close(h, sock, reader, sid, code: int, within: float = 3.0) -> None:
    t0 = time.monotonic()
    seen, got = reader.until_close()
    assert got == code, (seen, got)
    assert time.monotonic() - t0 < within
    sock.close()
    reason = h.wait_disconnect(sid)
    assert reason == "parse error"
    assert h.reasons(sid) == [reason]  # exactly once
    assert sid not in h.eio.sessions


def test_e08_length_2_pow_63_minus_1_is_refused_on_the_header(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"", length=2**63 - 1))  # the header and mask key, no payload
    expect_close(h, sock, reader, sid, 1009)


def test_e08_length_with_most_significant_bit_set_is_a_protocol_error(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(b"\x81\xff" + (2**63 + 5).to_bytes(8, "big") + b"\x00" * 4)
    _, got = reader.until_close()
    assert got in (1002, 1009)
    sock.close()
    assert h.wait_disconnect(sid) == "parse error"


def test_e08_message_over_cap_is_1009_before_the_payload_is_sent(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"", length=CAP + 1))  # the header only
    expect_close(h, sock, reader, sid, 1009)


def test_e08_fragments_summing_over_cap_are_1009_on_the_crossing_header(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    half = b"4" + b"a" * (CAP // 2)
    sock.sendall(frame(1, half, fin=False))
    # The continuation announces enough to cross the cap; its payload never comes.
    sock.sendall(frame(0, b"", length=CAP // 2 + 10))
    expect_close(h, sock, reader, sid, 1009)


def test_e08_ten_thousand_one_byte_fragments_without_fin(robust_server, handler):
    h = robust_server(handler=handler, max_ws_fragments=1024, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    first = frame(1, b"4", fin=False)
    rest = frame(0, b"a", fin=False)
    send_quietly(sock, first + rest * 9_999)
    expect_close(h, sock, reader, sid, 1009)


def test_e08_invalid_utf8_across_fragments_is_1007(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"4caf\xc3", fin=False) + frame(0, b"\x28 x"))  # \xc3\x28 is not UTF-8
    expect_close(h, sock, reader, sid, 1007)


@pytest.mark.parametrize("rsv", [1, 2, 4, 6])  # RSV1 (no extension agreed), RSV2, RSV3, both
def test_e08_reserved_bits_are_1002(robust_server, handler, rsv):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"4hello", rsv=rsv))
    expect_close(h, sock, reader, sid, 1002)


def test_e08_unmasked_client_frame_is_1002(robust_server, handler):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"4hello", mask=False))
    expect_close(h, sock, reader, sid, 1002)


@pytest.mark.parametrize("bad", [
    frame(3, b"x"),                       # reserved data opcode
    frame(11, b""),                       # reserved control opcode
    frame(9, b"x" * 126),                 # control frame over 125 bytes
    frame(9, b"ping", fin=False),         # fragmented control frame
    frame(0, b"4orphan"),                 # continuation with no message started
    frame(1, b"4a", fin=False) + frame(1, b"4b"),  # new message inside a fragmented one
], ids=["opcode3", "opcode11", "long-ping", "fragmented-ping", "orphan-continuation", "nested-start"])
def test_e08_framing_violations_are_1002(robust_server, handler, bad):
    h = robust_server(handler=handler, **OPTS)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(bad)
    expect_close(h, sock, reader, sid, 1002)


def test_e08_valid_frames_around_the_limits_still_work(robust_server, handler):
    """The limits refuse only what crosses them: a message of exactly the cap, split in
    1024 fragments (the fragment cap), is delivered."""
    h = robust_server(handler=handler, max_ws_fragments=1024, **OPTS)
    h.echo = False
    sock, reader, sid = ws_open_raw(h)
    payload = b"4" + b"z" * (CAP - 1)
    size = -(-len(payload) // 1024)
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    assert len(parts) <= 1024
    data = frame(1, parts[0], fin=len(parts) == 1)
    for i, p in enumerate(parts[1:], 1):
        data += frame(0, p, fin=i == len(parts) - 1)
    sock.sendall(data)
    h.wait_for(lambda: h.messages, what="message")
    assert h.messages == [(sid, "z" * (CAP - 1))]
    sock.sendall(frame(8, b"\x03\xe8"))
    _, got = reader.until_close()
    assert got == 1000
    sock.close()
    h.wait_disconnect(sid)


def test_e08_permessage_deflate_bomb_is_1009(robust_server):
    """A 10 MB message compressed to ~10 KB must not be inflated past the cap."""
    h = robust_server(websocket_compression=True, **OPTS)
    sock, reader, sid = ws_open_raw(h, extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = c.compress(b"4" + b"\x00" * 10_000_000) + c.flush(zlib.Z_SYNC_FLUSH)
    assert bomb.endswith(b"\x00\x00\xff\xff")
    bomb = bomb[:-4]
    assert len(bomb) < 20_000
    sock.sendall(frame(1, bomb, rsv=4))  # RSV1: compressed
    expect_close(h, sock, reader, sid, 1009)


def test_e08_compressed_frame_without_negotiation_is_1002(robust_server):
    h = robust_server(websocket_compression=True, **OPTS)
    sock, reader, sid = ws_open_raw(h)  # no extension offered
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (c.compress(b"4hello") + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    sock.sendall(frame(1, data, rsv=4))
    expect_close(h, sock, reader, sid, 1002)
