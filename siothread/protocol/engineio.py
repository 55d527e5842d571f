"""Engine.IO v4 packets and long-polling payloads (pure, no I/O).

Spec: engine.io-protocol v4, sections "Packet encoding" and "Payload encoding".
A packet is a type digit followed by its data; over WebSocket a binary frame is
a MESSAGE packet carrying raw bytes (no type digit); over long-polling packets
are joined with the record separator ``\\x1e`` and binary data travels as ``b``
followed by its base64 text.

Every decoder here takes its limits as arguments and fails only with
:class:`~siothread.errors.RemoteProtocolError`.
"""
from __future__ import annotations

import binascii
import enum
import json
from base64 import b64decode, b64encode
from typing import Iterable, List, Optional, Sequence, Union

from ..errors import RemoteProtocolError, peer_error
from ._compat import frozen

__all__ = [
    "PacketType",
    "Packet",
    "SEPARATOR",
    "encode_packet",
    "encode_payload",
    "decode_packet",
    "decode_payload",
    "decode_ws_text",
    "open_packet_data",
    "DEFAULT_MAX_PACKETS_PER_PAYLOAD",
]

SEPARATOR = "\x1e"

# engine.io-client batches its whole write buffer into one POST (it limits bytes,
# not packets), so a cap as low as python-engineio's 16 would disconnect a
# legitimate client that emits in a loop. The byte cap already makes decoding
# linear; this cap bounds the work one request can hand to the application.
DEFAULT_MAX_PACKETS_PER_PAYLOAD = 1000

Data = Union[str, bytes, None]


class PacketType(enum.IntEnum):
    """Engine.IO v4 packet types (spec "Protocol" table)."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPE_BY_CHAR = {str(t.value): t for t in PacketType}
_CHAR_BY_TYPE = {t: str(t.value) for t in PacketType}


@frozen
class Packet:
    """One Engine.IO packet. ``data`` is ``str`` or ``bytes`` (bytes only for MESSAGE)."""

    type: PacketType
    data: Data = None

    @property
    def binary(self) -> bool:
        return isinstance(self.data, (bytes, bytearray))


def _bad(message: str) -> RemoteProtocolError:
    return peer_error(message)


def encode_packet(packet: Packet) -> Union[str, bytes]:
    """Encode for a WebSocket message: ``str`` for a text frame, ``bytes`` for a binary frame."""
    data = packet.data
    if isinstance(data, (bytes, bytearray)):
        if packet.type is not PacketType.MESSAGE:
            raise ValueError("only MESSAGE packets carry binary data")
        return bytes(data)
    head = _CHAR_BY_TYPE[packet.type]
    return head if data is None else head + data


def _encode_for_payload(packet: Packet) -> str:
    data = packet.data
    if isinstance(data, (bytes, bytearray)):
        if packet.type is not PacketType.MESSAGE:
            raise ValueError("only MESSAGE packets carry binary data")
        return "b" + b64encode(data).decode("ascii")
    head = _CHAR_BY_TYPE[packet.type]
    return head if data is None else head + data


def encode_payload(packets: Iterable[Packet]) -> str:
    """Encode packets for one long-polling response body."""
    return SEPARATOR.join([_encode_for_payload(p) for p in packets])


def decode_packet(data: Union[str, bytes]) -> Packet:
    """Decode one WebSocket message (a text frame as ``str``, a binary frame as ``bytes``)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return Packet(PacketType.MESSAGE, bytes(data))
    if not isinstance(data, str):
        raise _bad("packet must be str or bytes")
    if not data:
        raise _bad("empty packet")
    ptype = _TYPE_BY_CHAR.get(data[0])
    if ptype is None:
        raise _bad("unknown packet type")
    return Packet(ptype, data[1:] if len(data) > 1 else None)


def _decode_segment(segment: str) -> Packet:
    if not segment:
        raise _bad("empty packet in payload")
    if segment[0] == "b":
        try:
            raw = b64decode(segment[1:].encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _bad("invalid base64 in payload") from None
        return Packet(PacketType.MESSAGE, raw)
    return decode_packet(segment)


def decode_payload(
    body: Union[str, bytes],
    *,
    max_packets: int = DEFAULT_MAX_PACKETS_PER_PAYLOAD,
) -> List[Packet]:
    """Decode a long-polling request body into packets.

    Raises:
        RemoteProtocolError: invalid UTF-8, an empty or unknown packet, invalid
            base64, or more than ``max_packets`` packets.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("payload is not valid UTF-8") from None
    # Count before splitting so a body of a million separators costs one scan.
    if body.count(SEPARATOR) >= max_packets:
        raise _bad("too many packets in payload")
    return [_decode_segment(s) for s in body.split(SEPARATOR)]


def decode_ws_text(
    text: str,
    *,
    max_packets: int = DEFAULT_MAX_PACKETS_PER_PAYLOAD,
) -> List[Packet]:
    """Decode a WebSocket text message, which some clients use to batch packets with ``\\x1e``."""
    if SEPARATOR not in text:
        return [decode_packet(text)]
    return decode_payload(text, max_packets=max_packets)


def open_packet_data(
    sid: str,
    upgrades: Sequence[str],
    ping_interval: float,
    ping_timeout: float,
    max_payload: int,
) -> str:
    """The JSON data of the OPEN packet; intervals are seconds, reported in exact milliseconds."""
    return json.dumps(
        {
            "sid": sid,
            "upgrades": list(upgrades),
            "pingInterval": int(round(ping_interval * 1000)),
            "pingTimeout": int(round(ping_timeout * 1000)),
            "maxPayload": int(max_payload),
        },
        separators=(",", ":"),
    )


def packet(ptype: PacketType, data: Optional[Union[str, bytes]] = None) -> Packet:
    """Shorthand constructor."""
    return Packet(ptype, data)
