"""What cluster adapters put on the broker: msgpack or JSON, decoded with limits, validated before use.

Node's Redis adapters encode with ``notepack.io`` (MessagePack) or
``JSON.stringify`` and tell them apart by the first byte (``{`` is JSON). This
module reads and writes both, and nothing else: no pickle, whatever a queue
holds (python-socketio's ``RedisManager`` unpickles what it reads; security row
A4). Every message is checked before a field is used: a size cap before
decoding, a nesting cap and a map-key check after, then the typed accessors
(:func:`packet_from_wire`, :func:`opts_from_wire`, :func:`text`, ...) raise
:class:`WireError` for anything of the wrong shape. :class:`DropLog` turns
those errors into one rate-limited log line and a counter.

notepack specifics: ``undefined`` is the extension ``0xd4 00 00`` (read as
None), an ``ArrayBuffer`` is extension type 0 (read as bytes), a ``Date`` is a
fixext 8 of type 0 (read as its ISO string, as ``JSON.stringify`` writes it).

Reference: ``socketio/socket.io-redis-adapter: lib/index.ts`` (``onmessage``,
``onrequest``: ``msg[0] === 0x7b``), ``lib/sharded-adapter.ts`` (``encode``),
``darrachequesne/notepack: lib/{encode,decode}.js``.
"""
from __future__ import annotations

import datetime
import json
import logging
import time
from typing import Any, Dict, FrozenSet, List, Optional

import msgpack

from ..protocol.socketio import MAX_ACK_ID, Packet, PacketType
from .base import BroadcastOptions

__all__ = [
    "WireError", "WireLimits", "decode", "encode_msgpack", "encode_json", "encode_auto", "has_binary",
    "packet_to_wire", "packet_from_wire", "opts_to_wire", "opts_from_wire", "DropLog",
]

_JSON_START = 0x7B  # "{"


class WireError(ValueError):
    """A message from the broker that is not what the protocol allows (dropped, counted)."""


class WireLimits:
    """Caps applied to every message read from the broker.

    Attributes:
        max_bytes: raw message size (1 MB, engine.io's ``maxHttpBufferSize`` default).
        max_depth: nesting of arrays and maps (socket.io-parser has none; 32 is
            far beyond any real payload and keeps validation recursion shallow).
        max_rooms: rooms in one message's ``rooms``/``except`` lists.
    """

    __slots__ = ("max_bytes", "max_depth", "max_rooms")

    def __init__(self, max_bytes: int = 1_000_000, max_depth: int = 32, max_rooms: int = 10_000) -> None:
        if max_bytes <= 0 or max_depth <= 0 or max_rooms <= 0:
            raise ValueError("wire limits must be positive")
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_rooms = max_rooms


DEFAULT_LIMITS = WireLimits()


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        if len(data) == 1:
            return None  # notepack's undefined
        if len(data) == 8:
            ms = int.from_bytes(data[:4], "big", signed=True) * 2**32 + int.from_bytes(data[4:], "big")
            try:
                moment = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise WireError("date out of range") from None
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
        return data  # an ArrayBuffer
    raise WireError(f"unknown msgpack extension type {code}")


def _check_depth(obj: Any, depth: int, limit: int) -> None:
    if depth > limit:
        raise WireError("message nested too deeply")
    if type(obj) is list:
        for item in obj:
            if type(item) is list or type(item) is dict:
                _check_depth(item, depth + 1, limit)
    elif type(obj) is dict:
        for key, item in obj.items():
            if type(key) is not str:
                raise WireError("map keys must be strings")
            if type(item) is list or type(item) is dict:
                _check_depth(item, depth + 1, limit)


def decode(raw: bytes, limits: WireLimits = DEFAULT_LIMITS) -> Any:
    """A broker message as Python values: JSON when it starts with ``{``, msgpack otherwise.

    Raises:
        WireError: too large, not valid JSON/msgpack, too deep, or with non-string map keys.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise WireError("a message must be bytes")
    if len(raw) > limits.max_bytes:
        raise WireError(f"message of {len(raw)} bytes exceeds {limits.max_bytes}")
    if not raw:
        raise WireError("empty message")
    try:
        if raw[0] == _JSON_START:
            value = json.loads(bytes(raw))
        else:
            value = msgpack.unpackb(
                raw, raw=False, use_list=True, strict_map_key=False, ext_hook=_ext_hook)
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
        raise WireError(f"undecodable message: {type(exc).__name__}") from None
    if type(value) is list or type(value) is dict:
        try:
            _check_depth(value, 1, limits.max_depth)
        except RecursionError:
            raise WireError("message nested too deeply") from None
    return value


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot send a {type(obj).__name__} to other nodes")


def encode_msgpack(obj: Any) -> bytes:
    """MessagePack as notepack reads it (bytes as bin, tuples as arrays)."""
    return msgpack.packb(obj, use_bin_type=True, default=_default)  # type: ignore[no-any-return]


def encode_json(obj: Any) -> bytes:
    """Compact JSON (what ``JSON.stringify`` writes); binary values are not allowed."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_default).encode("utf-8")


def has_binary(obj: Any) -> bool:
    """Whether ``obj`` holds bytes at any depth (then only msgpack can carry it)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return True
    if isinstance(obj, (list, tuple)):
        return any(has_binary(item) for item in obj)
    if isinstance(obj, dict):
        return any(has_binary(item) for item in obj.values())
    return False


def encode_auto(obj: Any) -> bytes:
    """JSON unless the message holds binary (the sharded adapter's rule)."""
    return encode_msgpack(obj) if has_binary(obj) else encode_json(obj)


# ----------------------------------------------------------------- typed accessors
def field(message: Any, name: str) -> Any:
    """``message[name]`` of a map, or WireError."""
    if type(message) is not dict:
        raise WireError("expected a map")
    return message.get(name)


def text(value: Any, what: str, max_length: int = 1024) -> str:
    """A string field, bounded."""
    if type(value) is not str or len(value) > max_length:
        raise WireError(f"{what} must be a string of at most {max_length} characters")
    return value


def integer(value: Any, what: str, low: int = 0, high: int = 2**53 - 1) -> int:
    if type(value) is not int or not low <= value <= high:
        raise WireError(f"{what} must be an integer in [{low}, {high}]")
    return value


def _room(value: Any) -> str:
    # Node rooms may be numbers (socket.io-adapter's Room = string | number)
    if type(value) is str:
        if len(value) > 1024:
            raise WireError("room name too long")
        return value
    if type(value) is int or type(value) is float:
        return str(int(value)) if float(value).is_integer() else str(value)
    raise WireError("a room must be a string or a number")


def rooms(value: Any, limits: WireLimits = DEFAULT_LIMITS) -> List[str]:
    """A list of room names (absent means none)."""
    if value is None:
        return []
    if type(value) is not list:
        raise WireError("rooms must be a list")
    if len(value) > limits.max_rooms:
        raise WireError("too many rooms")
    return [_room(item) for item in value]


def packet_to_wire(packet: Packet) -> Dict[str, Any]:
    """A Socket.IO EVENT packet as Node's adapters carry it: ``{type, data, nsp[, id]}``."""
    out: Dict[str, Any] = {"type": int(PacketType.EVENT), "data": packet.data, "nsp": packet.namespace}
    if packet.id is not None:
        out["id"] = packet.id
    return out


def packet_from_wire(value: Any, namespace: str) -> Packet:
    """A broadcast packet from another node, checked: an EVENT of ``namespace`` with a string name."""
    if type(value) is not dict:
        raise WireError("a packet must be a map")
    ptype = value.get("type")
    if ptype not in (PacketType.EVENT, PacketType.BINARY_EVENT) or type(ptype) is not int:
        raise WireError("only EVENT packets are broadcast")
    nsp = value.get("nsp", "/")
    if nsp is None:
        nsp = "/"
    if nsp != namespace:
        raise WireError("packet namespace does not match the channel")
    data = value.get("data")
    if type(data) is not list or not data or type(data[0]) is not str:
        raise WireError("an EVENT needs a list with a string event name first")
    pid = value.get("id")
    if pid is not None:
        integer(pid, "packet id", 0, MAX_ACK_ID)
    return Packet(PacketType.EVENT, namespace, data, pid)


def opts_to_wire(opts: BroadcastOptions, timeout: Optional[float] = None) -> Dict[str, Any]:
    """Node's ``{rooms, except, flags}`` (flags carry ``volatile``/``compress``/``local``/``timeout`` ms)."""
    flags: Dict[str, Any] = {}
    if opts.volatile:
        flags["volatile"] = True
    if opts.compress is not None:
        flags["compress"] = opts.compress
    if opts.local:
        flags["local"] = True
    if timeout is not None:
        flags["timeout"] = int(timeout * 1000)
    return {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms), "flags": flags}


def opts_from_wire(value: Any, limits: WireLimits = DEFAULT_LIMITS) -> BroadcastOptions:
    """Broadcast options from another node (unknown flags ignored, as Node does)."""
    if value is None:
        return BroadcastOptions()
    if type(value) is not dict:
        raise WireError("opts must be a map")
    flags = value.get("flags") or {}
    if type(flags) is not dict:
        raise WireError("flags must be a map")
    compress = flags.get("compress")
    target: FrozenSet[str] = frozenset(rooms(value.get("rooms"), limits))
    excluded: FrozenSet[str] = frozenset(rooms(value.get("except"), limits))
    return BroadcastOptions(
        target, excluded, volatile=bool(flags.get("volatile")),
        compress=None if compress is None else bool(compress),
    )


def flag_timeout(value: Any, default: float, cap: float) -> float:
    """``opts.flags.timeout`` in seconds (Node sends milliseconds), bounded by ``cap``."""
    flags = value.get("flags") if type(value) is dict else None
    ms: Any = flags.get("timeout") if type(flags) is dict else None
    if type(ms) not in (int, float) or ms != ms or ms <= 0:
        return default
    return min(float(ms) / 1000.0, cap)


class DropLog:
    """Counts dropped messages by reason and logs at most one line per ``interval`` seconds.

    A flood of bad messages (a misbehaving publisher, a hostile one with access
    to the broker) must not flood the log: the first drop logs at once, later
    ones are summed into the next line.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self.counts: Dict[str, int] = {}
        self._unlogged = 0
        self._last = -interval

    def drop(self, reason: str, detail: str = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.logger.warning("dropped %d message(s) from the broker; last: %s %s", self._unlogged, reason, detail)
            self._unlogged = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())
