"""Socket.IO v5 packets as MessagePack, compatible with npm ``socket.io-msgpack-parser`` 3.x (pure).

That parser (``index.js``) msgpack-encodes the whole packet object as ONE
binary message, with no attachments and no BINARY_* types::

    {"type": 0..4, "data": ..., "nsp": "/...", "id": n}

``nsp`` is always present (its decoder rejects a packet whose ``nsp`` is not
a string; socket.io sets it on every packet); ``data`` and ``id`` are left out
when absent. Clients add keys of their own (``options: {compress}`` from
socket.io-client), which are ignored, as its ``checkPacket`` ignores them.

The JavaScript side encodes with ``notepack.io`` 2.x, whose extension type 0
carries three JavaScript values that MessagePack has no type for:

* ``undefined``: fixext 1 (``d4 00 00``). Decoded like ``JSON.stringify``
  would have sent it: a missing packet field, ``null`` in an array, and a
  dict entry left out.
* ``ArrayBuffer`` / typed arrays: ext 8/16/32 with type 0 (``c7 <len> 00 ...``).
  Decoded as ``bytes`` (a Node ``Buffer`` arrives as MessagePack ``bin``).
* ``Date``: fixext 8 (``d7 00`` + milliseconds as int32 high / uint32 low).
  Decoded as the ISO 8601 string ``Date.prototype.toISOString`` returns, the
  value a JSON-parser client would have sent.

The C extension of the ``msgpack`` package reports extension values as
``(type, bytes)`` and so cannot tell ``d4 00 00`` from ``c7 01 00 00`` (a
one-byte ArrayBuffer holding 0) or ``d7 00`` from ``c7 08 00``. A message
holding one of those ambiguous ext headers is decoded by the small exact
decoder below instead; every other message takes the C path.

The C extension also turns extension type -1 into ``msgpack.Timestamp``
objects on its own; messages that may hold one go the exact way too, which
refuses every extension type but 0.

Validation is the default parser's (:func:`.socketio.validate_incoming`,
:func:`.socketio.validate_namespace`), plus: map keys in ``data`` must be
strings and nesting is bounded by ``max_json_depth``. The message size is
bounded by the transport (``maxPayload``). The ``msgpack`` package is
imported on first use only.
"""
from __future__ import annotations

import struct
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..errors import CloseCode, LocalProtocolError, RemoteProtocolError, peer_error
from .socketio import (
    ROLES,
    Limits,
    Packet,
    PacketType,
    check_outgoing,
    validate_incoming,
    validate_namespace,
)

__all__ = ["encode", "Decoder", "unpack_exact", "UNDEFINED"]

_DEFAULT_LIMITS = Limits()
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Byte patterns that send a message to the exact decoder: ext headers whose
# (type, payload) collide with notepack's undefined / Date markers, and the
# headers of a type -1 timestamp, which the C extension decodes by itself.
# A pattern may also occur inside a string or a blob: that only costs speed.
_EXACT_TRIGGERS = (
    b"\xc7\x01\x00",
    b"\xc7\x08\x00",
    b"\xc8\x00\x01\x00",
    b"\xc8\x00\x08\x00",
    b"\xc9\x00\x00\x00\x01\x00",
    b"\xc9\x00\x00\x00\x08\x00",
    b"\xd6\xff",
    b"\xd7\xff",
    b"\xc7\x0c\xff",
)
_WIRE_TYPE = {
    PacketType.CONNECT: 0,
    PacketType.DISCONNECT: 1,
    PacketType.EVENT: 2,
    PacketType.ACK: 3,
    PacketType.CONNECT_ERROR: 4,
    PacketType.BINARY_EVENT: 2,
    PacketType.BINARY_ACK: 3,
}
_TYPE_BY_WIRE = {
    0: PacketType.CONNECT,
    1: PacketType.DISCONNECT,
    2: PacketType.EVENT,
    3: PacketType.ACK,
    4: PacketType.CONNECT_ERROR,
}


class _Undefined:
    """notepack's ``undefined``, until the data walk turns it into an absence."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()


def _bad(message: str, close_code: int = CloseCode.PROTOCOL_ERROR) -> RemoteProtocolError:
    return peer_error(message, close_code)


def _msgpack() -> Any:
    try:
        import msgpack  # noqa: PLC0415  (optional dependency, imported on first use)
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the msgpack parser needs the 'msgpack' package: pip install siothread[msgpack]"
        ) from None
    return msgpack


# --------------------------------------------------------------------------- encoding


def _pack_default(obj: Any) -> Any:
    if isinstance(obj, memoryview):
        return obj.tobytes()
    raise TypeError(f"Object of type {type(obj).__name__} cannot be sent as MessagePack")


def encode(packet: Packet) -> List[bytes]:
    """Encode a packet as ``socket.io-msgpack-parser``'s ``Encoder`` does.

    Args:
        packet: the packet; ``data`` may hold ``bytes``/``bytearray``/
            ``memoryview`` anywhere (sent as MessagePack ``bin``, which
            notepack decodes as a ``Buffer``). BINARY_* types are sent as
            EVENT/ACK: this parser has no attachments.

    Returns:
        A one-element list: the MessagePack message.

    Raises:
        LocalProtocolError: the packet breaks :func:`.socketio.check_outgoing`
            or holds a string MessagePack cannot encode (a lone surrogate).
        TypeError, OverflowError: ``data`` holds a value MessagePack cannot
            represent (an arbitrary object, an int beyond 64 bits).
    """
    obj: Dict[str, Any] = {"type": _WIRE_TYPE[check_outgoing(packet)]}
    if packet.data is not None:
        obj["data"] = packet.data
    obj["nsp"] = packet.namespace
    if packet.id is not None:
        obj["id"] = packet.id
    try:
        return [_msgpack().packb(obj, use_bin_type=True, default=_pack_default)]
    except UnicodeEncodeError:
        raise LocalProtocolError("string cannot be encoded as UTF-8") from None


# --------------------------------------------------------------------------- exact decoder


def _iso_date(payload: bytes) -> str:
    high, low = struct.unpack(">iI", payload)
    millis = high * 2**32 + low
    try:
        moment = _EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        raise _bad("Date out of range", CloseCode.INVALID_DATA) from None
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def _ext_value(code: int, payload: bytes, fixed: bool) -> Any:
    """The value of an extension: ``fixed`` says whether it came in a fixext header."""
    if code != 0:
        raise _bad("unsupported MessagePack extension type", CloseCode.INVALID_DATA)
    if fixed and len(payload) == 1:
        return UNDEFINED
    if fixed and len(payload) == 8:
        return _iso_date(payload)
    return bytes(payload)


class _ExactReader:
    """A small MessagePack decoder that tells fixext from ext headers (see module docstring).

    Recursive, with the recursion bounded by ``max_depth`` (at most a few
    hundred frames), and linear: every length is checked against the bytes
    left before anything is read or allocated.
    """

    __slots__ = ("buf", "pos", "max_depth")

    def __init__(self, buf: bytes, max_depth: int) -> None:
        self.buf = buf
        self.pos = 0
        self.max_depth = max_depth

    def take(self, size: int) -> bytes:
        start = self.pos
        end = start + size
        if end > len(self.buf):
            raise _bad("truncated MessagePack data", CloseCode.INVALID_DATA)
        self.pos = end
        return self.buf[start:end]

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big", signed=True)

    def text(self, size: int) -> str:
        try:
            return self.take(size).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("invalid UTF-8 in MessagePack string", CloseCode.INVALID_DATA) from None

    def count(self, size: int) -> int:
        n = size
        if n > len(self.buf) - self.pos:  # every item takes at least one byte
            raise _bad("truncated MessagePack data", CloseCode.INVALID_DATA)
        return n

    def value(self, depth: int) -> Any:
        head = self.take(1)[0]
        if head <= 0x7F:
            return head
        if head >= 0xE0:
            return head - 0x100
        if 0xA0 <= head <= 0xBF:
            return self.text(head & 0x1F)
        if 0x90 <= head <= 0x9F:
            return self.array(head & 0x0F, depth)
        if 0x80 <= head <= 0x8F:
            return self.map(head & 0x0F, depth)
        if head == 0xC0:
            return None
        if head == 0xC2:
            return False
        if head == 0xC3:
            return True
        if head in (0xC4, 0xC5, 0xC6):
            return self.take(self.uint(1 << (head - 0xC4)))
        if head in (0xC7, 0xC8, 0xC9):
            size = self.uint(1 << (head - 0xC7))
            code = self.sint(1)
            return _ext_value(code, self.take(size), fixed=False)
        if head == 0xCA:
            return struct.unpack(">f", self.take(4))[0]
        if head == 0xCB:
            return struct.unpack(">d", self.take(8))[0]
        if 0xCC <= head <= 0xCF:
            return self.uint(1 << (head - 0xCC))
        if 0xD0 <= head <= 0xD3:
            return self.sint(1 << (head - 0xD0))
        if 0xD4 <= head <= 0xD8:
            code = self.sint(1)
            return _ext_value(code, self.take(1 << (head - 0xD4)), fixed=True)
        if head in (0xD9, 0xDA, 0xDB):
            return self.text(self.uint(1 << (head - 0xD9)))
        if head in (0xDC, 0xDD):
            return self.array(self.uint(2 << (head - 0xDC)), depth)
        if head in (0xDE, 0xDF):
            return self.map(self.uint(2 << (head - 0xDE)), depth)
        raise _bad("invalid MessagePack type byte", CloseCode.INVALID_DATA)  # 0xC1

    def array(self, size: int, depth: int) -> List[Any]:
        if depth >= self.max_depth:
            raise _bad("MessagePack data nested too deeply", CloseCode.INVALID_DATA)
        return [self.value(depth + 1) for _ in range(self.count(size))]

    def map(self, size: int, depth: int) -> Dict[Any, Any]:
        if depth >= self.max_depth:
            raise _bad("MessagePack data nested too deeply", CloseCode.INVALID_DATA)
        result: Dict[Any, Any] = {}
        for _ in range(self.count(size)):
            key = self.value(depth + 1)
            if type(key) is not str:
                raise _bad("MessagePack map keys must be strings", CloseCode.INVALID_DATA)
            result[key] = self.value(depth + 1)
        return result


def unpack_exact(buf: bytes, max_depth: int = 100) -> Any:
    """Decode one MessagePack value exactly as notepack.io reads it.

    Extension type 0 becomes :data:`UNDEFINED` (fixext 1), an ISO date string
    (fixext 8) or ``bytes`` (ext 8/16/32); other extension types, non-string
    map keys, trailing bytes and nesting deeper than ``max_depth`` are
    rejected.

    Raises:
        RemoteProtocolError: on any of those or on malformed input.
    """
    reader = _ExactReader(bytes(buf), max_depth)
    value = reader.value(0)
    if reader.pos != len(reader.buf):
        raise _bad("trailing bytes after MessagePack value", CloseCode.INVALID_DATA)
    return value


# --------------------------------------------------------------------------- C path


class _Unsupported(ValueError):
    """Raised from the ext hook for an extension type we refuse."""


def _c_ext_hook(code: int, payload: bytes) -> Any:
    # Only called when no _EXACT_TRIGGERS pattern is in the message, so a
    # 1-byte or 8-byte type-0 payload can only have come in a fixext header.
    if code != 0:
        raise _Unsupported("unsupported MessagePack extension type")
    size = len(payload)
    if size == 1:
        return UNDEFINED
    if size == 8:
        return _iso_date(payload)
    return bytes(payload)


def _clean(data: Any, max_depth: int) -> Any:
    """Turn notepack's ``undefined`` into absences and check keys and depth (iterative).

    Returns the cleaned value (the top level may itself be undefined: None).
    """
    if data is UNDEFINED:
        return None
    if type(data) is not list and type(data) is not dict:
        return data
    stack: List[Tuple[Union[List[Any], Dict[Any, Any]], int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise _bad("MessagePack data nested too deeply", CloseCode.INVALID_DATA)
        if type(container) is list:
            for index, item in enumerate(container):
                kind = type(item)
                if kind is list or kind is dict:
                    stack.append((item, depth + 1))
                elif item is UNDEFINED:
                    container[index] = None  # JSON.stringify writes undefined items as null
        else:
            undefined_keys = []
            for key, item in container.items():
                if type(key) is not str:
                    raise _bad("MessagePack map keys must be strings", CloseCode.INVALID_DATA)
                kind = type(item)
                if kind is list or kind is dict:
                    stack.append((item, depth + 1))
                elif item is UNDEFINED:
                    undefined_keys.append(key)
            for key in undefined_keys:
                del container[key]  # JSON.stringify drops undefined members
    return data


class Decoder:
    """Decoder for ``socket.io-msgpack-parser`` messages; same interface as :class:`.socketio.Decoder`.

    Every packet is one binary message, so :meth:`feed` never returns
    ``None`` and :attr:`awaiting_attachments` is always false. A text message
    is an error. Validation is the default parser's, by ``role``.
    """

    __slots__ = ("limits", "role", "_unpackb")

    def __init__(self, limits: Limits = _DEFAULT_LIMITS, *, role: str = "server") -> None:
        if not isinstance(limits, Limits):
            raise TypeError("limits must be a Limits instance")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.limits = limits
        self.role = role
        self._unpackb: Callable[..., Any] = _msgpack().unpackb

    @property
    def awaiting_attachments(self) -> bool:
        """Always false: this parser sends no attachments."""
        return False

    def reset(self) -> None:
        """Nothing to drop: every message is a whole packet."""

    def feed(self, message: Union[bytes, bytearray, memoryview]) -> Optional[Packet]:
        """Decode one binary message into a packet.

        Raises:
            RemoteProtocolError: a text message, malformed MessagePack, a
                packet object that breaks the rules, or data that does.
        """
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise _bad("the msgpack parser expects binary messages")
        buf = message if type(message) is bytes else bytes(message)
        if any(pattern in buf for pattern in _EXACT_TRIGGERS):
            obj = unpack_exact(buf, max_depth=self.limits.max_json_depth + 1)
        else:
            try:
                obj = self._unpackb(buf, raw=False, strict_map_key=True, ext_hook=_c_ext_hook)
            except RemoteProtocolError:
                raise
            except (ValueError, TypeError, OverflowError) as exc:
                reason = str(exc) if isinstance(exc, _Unsupported) else "invalid MessagePack data"
                raise _bad(reason, CloseCode.INVALID_DATA) from None
            except Exception:  # msgpack's own UnpackException family
                raise _bad("invalid MessagePack data", CloseCode.INVALID_DATA) from None
        return self._packet(obj)

    def _packet(self, obj: Any) -> Packet:
        if type(obj) is not dict:
            raise _bad("packet must be a map")
        wire_type = obj.get("type")
        ptype = _TYPE_BY_WIRE.get(wire_type) if type(wire_type) is int else None
        if ptype is None:
            raise _bad("invalid packet type")
        nsp = obj.get("nsp")
        validate_namespace(nsp, self.limits.max_namespace_length)
        pid = obj.get("id", UNDEFINED)
        if pid is UNDEFINED:
            pid = None
        elif type(pid) is not int or not 0 <= pid <= self.limits.max_ack_id:
            raise _bad("invalid ack id")
        data = _clean(obj.get("data", UNDEFINED), self.limits.max_json_depth)
        validate_incoming(ptype, data, pid, self.limits, self.role)
        return Packet(ptype, nsp, data, pid)
