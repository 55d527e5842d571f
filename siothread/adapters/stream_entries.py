"""The entries Node's Redis Streams adapter writes, and which of them a recovered session missed.

``@socket.io/redis-streams-adapter`` 0.3.x adds one stream entry per cluster
message that must not be lost (broadcasts without acks, ``socketsJoin``,
``socketsLeave``, ``disconnectSockets``, ...) with the fields ``uid``,
``nsp``, ``type`` (Node's ``MessageType`` number as a decimal string) and,
when there is one, ``data``: ``JSON.stringify(data)``, or the base64 of its
MessagePack encoding when the data holds binary. Entries are read back with
the same checks as every other broker message (:mod:`~siothread.adapters.wire`):
anything of the wrong shape raises :class:`~siothread.adapters.wire.WireError`
and is dropped and counted by the caller.

A stream entry id (``<ms>-<seq>``) is also the *offset* a client receives as
the last argument of each stored event; :func:`parse_id` compares them as
integer pairs.

Reference: ``socketio/socket.io-redis-streams-adapter: lib/adapter.ts``
(``encode``, ``decode``, ``shouldIncludePacket``).
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ..protocol.socketio import Packet, PacketType
from . import wire

__all__ = ["StreamId", "ZERO", "parse_id", "format_id", "encode_entry", "decode_entry", "missed_packet"]

#: a stream entry id as (milliseconds, sequence)
StreamId = Tuple[int, int]
ZERO: StreamId = (0, 0)

_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
#: message types whose data may carry binary (Node's ``mayContainBinary``)
_MAY_CONTAIN_BINARY = frozenset({3, 8, 9, 10, 12})
_MAX_FIELDS = 16


def parse_id(value: Any) -> Optional[StreamId]:
    """``"1700000000000-3"`` (str or bytes) as ``(1700000000000, 3)``; None when it is not an id."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if type(value) is not str:
        return None
    match = _ID.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"


def encode_entry(message: Mapping[str, Any], only_plaintext: bool = False) -> List[Any]:
    """A cluster message as the flat ``field, value, ...`` list of an ``XADD``.

    Raises:
        TypeError, ValueError: the data cannot be encoded (a value JSON and msgpack cannot carry).
    """
    mtype = int(message["type"])
    fields: List[Any] = ["uid", message["uid"], "nsp", message["nsp"], "type", str(mtype)]
    data = message.get("data")
    if data is not None:
        if not only_plaintext and mtype in _MAY_CONTAIN_BINARY and wire.has_binary(data):
            fields += ["data", base64.b64encode(wire.encode_msgpack(data))]
        else:
            fields += ["data", wire.encode_json(data)]
    return fields


def _text(value: Any, what: str, max_length: int) -> str:
    if not isinstance(value, bytes) or len(value) > max_length * 4:
        raise wire.WireError(f"entry field {what} missing or too long")
    try:
        return wire.text(value.decode("utf-8"), what, max_length)
    except UnicodeDecodeError:
        raise wire.WireError(f"entry field {what} is not UTF-8") from None


def decode_entry(fields: Any, limits: wire.WireLimits = wire.DEFAULT_LIMITS) -> Dict[str, Any]:
    """A stream entry's fields (as redis-py returns them: a dict of bytes) as a checked message.

    Raises:
        WireError: missing or malformed fields, an unknown type, undecodable data.
    """
    if type(fields) is not dict or len(fields) > _MAX_FIELDS:
        raise wire.WireError("an entry must be a small map of fields")
    uid = _text(fields.get(b"uid"), "uid", 64)
    nsp = _text(fields.get(b"nsp"), "nsp", 256)
    raw_type = fields.get(b"type")
    if not isinstance(raw_type, bytes) or not raw_type.isdigit() or len(raw_type) > 2:
        raise wire.WireError("entry field type must be a message type number")
    mtype = int(raw_type)
    if not 1 <= mtype <= 13:
        raise wire.WireError(f"unknown message type {mtype}")
    message: Dict[str, Any] = {"uid": uid, "nsp": nsp, "type": mtype}
    raw = fields.get(b"data")
    if raw is not None:
        if not isinstance(raw, bytes) or len(raw) > limits.max_bytes * 4 // 3 + 4:
            raise wire.WireError("entry field data too large")
        if not raw.startswith(b"{"):
            try:
                raw = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise wire.WireError("entry field data is neither JSON nor base64") from None
            if raw.startswith(b"{"):
                raise wire.WireError("base64 data must hold msgpack")
        message["data"] = wire.decode(raw, limits)
    return message


def missed_packet(message: Dict[str, Any], entry: str, entry_id: StreamId, namespace: str,
                  rooms: FrozenSet[str], joined: Dict[str, StreamId], start: StreamId,
                  limits: wire.WireLimits = wire.DEFAULT_LIMITS) -> Optional[Packet]:
    """The packet a session missed in this entry (its offset appended), or None.

    Only plain broadcasts count (no ack, not volatile, this namespace); a room
    broadcast only if the session was in a target room *before* the entry
    (``joined[room] < entry_id``; rooms without a recorded position count from
    ``start``), and never if it was in an excluded room.

    Raises:
        WireError: the entry's data is not a valid broadcast.
    """
    if message["type"] != 3 or message["nsp"] != namespace:
        return None
    data = message.get("data")
    if type(data) is not dict:
        raise wire.WireError("data must be a map")
    if data.get("requestId") is not None:
        return None
    packet = wire.packet_from_wire(data.get("packet"), namespace)
    opts = wire.opts_from_wire(data.get("opts"), limits)
    if packet.id is not None or opts.volatile:
        return None
    if opts.except_rooms and not opts.except_rooms.isdisjoint(rooms):
        return None
    if opts.rooms and not any(room in rooms and joined.get(room, start) < entry_id for room in opts.rooms):
        return None
    return Packet(PacketType.EVENT, namespace, [*packet.data, entry])
