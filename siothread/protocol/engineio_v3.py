"""Engine.IO v3 payloads and WebSocket binary messages (pure, no I/O).

Engine.IO v3 is what socket.io-client 2.x speaks (``EIO=3``). Its packets are
those of v4 (:class:`~siothread.protocol.engineio.Packet`); what differs is how
they are framed (engine.io-parser 2.2, as kept in Node's
``engine.io/lib/parser-v3``):

* a text long-polling payload is ``<length>:<packet>`` repeated, the length
  counted in UTF-16 code units (JavaScript string length), binary data as
  ``b4<base64>`` (``b64=1``, or a text-only payload);
* a binary long-polling payload (``application/octet-stream``) frames each
  packet with a header: ``0x00`` (string) or ``0x01`` (binary), the decimal
  digits of its length as bytes 0..9, then ``0xff``; a string packet is UTF-8,
  a binary one is its type byte (``0x04``) followed by the data;
* a binary WebSocket message is the type byte followed by the data.

Decoders take their limits as arguments, cap every length while reading it,
and fail only with :class:`~siothread.errors.RemoteProtocolError`.
"""
from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode
from typing import List, Sequence, Union

from ..errors import RemoteProtocolError, peer_error
from .engineio import DEFAULT_MAX_PACKETS_PER_PAYLOAD, Packet, PacketType, decode_packet, encode_packet

__all__ = [
    "encode_payload",
    "encode_text_payload",
    "encode_binary_payload",
    "decode_payload",
    "encode_ws_binary",
    "decode_ws_binary",
    "utf16_length",
    "MAX_LENGTH_DIGITS",
]

#: A length header longer than this is refused before it is converted (no body is that large).
MAX_LENGTH_DIGITS = 10

_MESSAGE_BYTE = b"\x04"
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _bad(message: str) -> RemoteProtocolError:
    return peer_error(message)


def utf16_length(text: str) -> int:
    """The JavaScript length of ``text``: characters outside the BMP count twice."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def _text_of(packet: Packet) -> str:
    data = packet.data
    if isinstance(data, (bytes, bytearray)):
        if packet.type is not PacketType.MESSAGE:
            raise ValueError("only MESSAGE packets carry binary data")
        return "b4" + b64encode(data).decode("ascii")
    return encode_packet(packet)  # type: ignore[return-value]  # str data: a str


def encode_text_payload(packets: Sequence[Packet]) -> str:
    """A text payload: ``<length>:<packet>`` for each packet, binary data as ``b4<base64>``."""
    if not packets:
        return "0:"
    parts = []
    for packet in packets:
        text = _text_of(packet)
        parts.append(f"{utf16_length(text)}:{text}")
    return "".join(parts)


def _header(kind: int, length: int) -> bytes:
    return bytes([kind, *(int(d) for d in str(length)), 0xFF])


def encode_binary_payload(packets: Sequence[Packet]) -> bytes:
    """A binary payload (``application/octet-stream``): each packet behind its length header."""
    parts: List[bytes] = []
    for packet in packets:
        data = packet.data
        if isinstance(data, (bytes, bytearray)):
            if packet.type is not PacketType.MESSAGE:
                raise ValueError("only MESSAGE packets carry binary data")
            parts += [_header(1, len(data) + 1), _MESSAGE_BYTE, bytes(data)]
        else:
            raw = _text_of(packet).encode("utf-8")
            parts += [_header(0, len(raw)), raw]
    return b"".join(parts)


def encode_payload(packets: Sequence[Packet], supports_binary: bool) -> Union[str, bytes]:
    """What a v3 GET answers: binary framing only when the client takes it and a packet is binary."""
    if supports_binary and any(p.binary for p in packets):
        return encode_binary_payload(packets)
    return encode_text_payload(packets)


def _decode_text_packet(text: str) -> Packet:
    if text[:1] == "b":
        if text[1:2] != "4":
            raise _bad("binary data in a packet other than MESSAGE")
        try:
            raw = b64decode(text[2:].encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _bad("invalid base64 in payload") from None
        return Packet(PacketType.MESSAGE, raw)
    return decode_packet(text)


def _end_of_units(text: str, start: int, units: int) -> int:
    """The index ``units`` UTF-16 code units after ``start``; refuses to cut a surrogate pair."""
    end = start + units
    if end <= len(text) and _ASTRAL.search(text, start, end) is None:
        return end
    i = start
    while units > 0:
        if i >= len(text):
            raise _bad("packet length past the end of the payload")
        width = 2 if ord(text[i]) > 0xFFFF else 1
        if width > units:
            raise _bad("packet length splits a character")
        units -= width
        i += 1
    return i


def _decode_text_payload(text: str, max_packets: int) -> List[Packet]:
    if not text:
        raise _bad("empty payload")
    packets: List[Packet] = []
    i, n, headers = 0, len(text), 0
    while i < n:
        colon = text.find(":", i, i + MAX_LENGTH_DIGITS + 1)
        digits = text[i:colon]
        if colon < 0 or not digits or not (digits.isascii() and digits.isdigit()):
            raise _bad("invalid length header in payload")
        start = colon + 1
        end = _end_of_units(text, start, int(digits))
        headers += 1
        if headers > max_packets:  # empty packets ("0:") count too: each costs a turn of this loop
            raise _bad("too many packets in payload")
        if end > start:
            packets.append(_decode_text_packet(text[start:end]))
        i = end
    return packets


def _decode_binary_payload(body: bytes, max_packets: int) -> List[Packet]:
    if not body:
        raise _bad("empty payload")
    packets: List[Packet] = []
    i, n = 0, len(body)
    while i < n:
        kind = body[i]
        if kind > 1:
            raise _bad("invalid packet kind in binary payload")
        stop = body.find(b"\xff", i + 1, i + 2 + MAX_LENGTH_DIGITS)
        digits = body[i + 1:stop]
        if stop < 0 or not digits or max(digits) > 9:
            raise _bad("invalid length header in binary payload")
        length = int("".join(map(str, digits)))
        start = stop + 1
        end = start + length
        if end > n or length == 0:
            raise _bad("invalid packet length in binary payload")
        if len(packets) >= max_packets:
            raise _bad("too many packets in payload")
        chunk = body[start:end]
        if kind == 0:
            try:
                packets.append(_decode_text_packet(chunk.decode("utf-8")))
            except UnicodeDecodeError:
                raise _bad("string packet is not valid UTF-8") from None
        else:
            packets.append(decode_ws_binary(chunk))
        i = end
    return packets


def decode_payload(
    body: Union[str, bytes],
    *,
    binary: bool = False,
    max_packets: int = DEFAULT_MAX_PACKETS_PER_PAYLOAD,
) -> List[Packet]:
    """Decode a v3 long-polling request body (``binary``: it came as ``application/octet-stream``).

    Raises:
        RemoteProtocolError: a malformed or overlong length header, a length past
            the end, invalid UTF-8 or base64, an unknown packet type, binary data
            in a packet other than MESSAGE, or more than ``max_packets`` packets.
    """
    if binary:
        return _decode_binary_payload(bytes(body) if not isinstance(body, str) else body.encode("utf-8"),
                                      max_packets)
    if not isinstance(body, str):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("payload is not valid UTF-8") from None
    return _decode_text_payload(body, max_packets)


def encode_ws_binary(data: bytes) -> bytes:
    """A binary MESSAGE as a v3 WebSocket message: the type byte, then the data."""
    return _MESSAGE_BYTE + bytes(data)


def decode_ws_binary(message: Union[bytes, bytearray, memoryview]) -> Packet:
    """A v3 binary WebSocket message (or binary payload packet): only MESSAGE carries bytes."""
    raw = bytes(message)
    if raw[:1] != _MESSAGE_BYTE:
        raise _bad("binary message without the MESSAGE type byte")
    return Packet(PacketType.MESSAGE, raw[1:])
