"""Socket.IO v5 packets: encoding, incremental decoding and validation (pure, no I/O).

Spec: socket.io-protocol v5, "Packet encoding"; reference implementation
socket.io-parser 4.2.x ``lib/index.ts`` (``Encoder``, ``Decoder``,
``isPayloadValid``, ``RESERVED_EVENTS``, ``maxAttachments``).

Text format (one Engine.IO MESSAGE, the leading ``4`` already removed)::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

followed, for BINARY_EVENT / BINARY_ACK, by ``<attachments>`` binary messages.
The namespace is written only when it is not ``/``; it starts with ``/`` and
ends at the first ``,`` (or at the end of the text: ``40/admin`` is valid).

Theory of operation:

* :func:`encode` turns a :class:`Packet` into ``[text, *attachments]``. Binary
  values anywhere in ``data`` make the packet BINARY_EVENT / BINARY_ACK on the
  wire; the caller never picks those types.
* :class:`Decoder` is fed one message at a time and returns a :class:`Packet`,
  or ``None`` while it waits for attachments. Decoded packets are always
  EVENT or ACK (never BINARY_*): the attachments are already back in
  ``data`` as ``bytes``, exactly like socket.io-parser's decoder.
* Everything a peer controls is validated here, completely, so the layers
  above never index unchecked data (style principle 4). The only exception a
  decoder raises on bad input is :class:`~siothread.errors.RemoteProtocolError`;
  after raising, the decoder has dropped any partial packet and can be fed
  again.

Error close codes: 1002 (``PROTOCOL_ERROR``) for framing and structure,
1007 (``INVALID_DATA``) for malformed JSON (from :mod:`.jsonsafe`), 1009
(``MESSAGE_TOO_BIG``) when attachments exceed ``max_attachment_bytes``.
"""
from __future__ import annotations

import enum
import json
import re
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Union

from ..errors import CloseCode, LocalProtocolError, RemoteProtocolError, peer_error
from ._compat import frozen
from .binary import Slot, deconstruct, fill_placeholders, has_binary, locate_placeholders
from .jsonsafe import check_text, has_lone_surrogate, shared_reader

__all__ = [
    "PacketType",
    "Packet",
    "Limits",
    "RESERVED_EVENTS",
    "MAX_ACK_ID",
    "ROLES",
    "encode",
    "encode_event",
    "encode_ack",
    "Decoder",
    "decode",
    "connect_error_data",
    "validate_namespace",
    "validate_incoming",
    "check_outgoing",
]


class PacketType(enum.IntEnum):
    """Socket.IO v5 packet types (spec "Exchange protocol" table)."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


# Enum members as module constants: attribute access on an Enum class costs
# ~10x a global lookup, and these are read for every packet.
_CONNECT = PacketType.CONNECT
_DISCONNECT = PacketType.DISCONNECT
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
_CONNECT_ERROR = PacketType.CONNECT_ERROR
_BINARY_EVENT = PacketType.BINARY_EVENT
_BINARY_ACK = PacketType.BINARY_ACK

#: Event names a peer may never send. socket.io-parser 4.2.4 (d9db473, after
#: CVE-2023-32695) rejects the first six; ``error`` is added because a wire
#: event named ``error`` crashed Node servers (CVE-2024-38355) and must never
#: reach a handler that means something else. python-socketio let a client
#: fire the server's connect/disconnect handlers this way (gap G1).
RESERVED_EVENTS = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
    }
)

#: Largest ack id: ``Number.MAX_SAFE_INTEGER``, the largest id a JavaScript
#: peer can count to exactly (16 digits).
MAX_ACK_ID = 2**53 - 1
_MAX_ID_DIGITS = 16
# Longest "<digits>" field before "-" in a binary header; leading zeros are
# accepted as socket.io-parser accepts them, but a digit run cannot grow the
# work done (CVE-2020-36049 was a 100 MB digit run in this prefix).
_MAX_COUNT_DIGITS = 16

#: Who is decoding: a ``"server"`` validates what clients may send, a
#: ``"client"`` what servers may send.
ROLES = ("server", "client")

_EVENT_TYPES = frozenset({_EVENT, _BINARY_EVENT})
_ACK_TYPES = frozenset({_ACK, _BINARY_ACK})
_TYPE_BY_CHAR = {str(t.value): t for t in PacketType}
_TYPE_BY_VALUE = {t.value: t for t in PacketType}
# On the wire a packet without attachments is always EVENT/ACK.
_PLAIN_CHAR = {
    _CONNECT: "0",
    _DISCONNECT: "1",
    _EVENT: "2",
    _ACK: "3",
    _CONNECT_ERROR: "4",
    _BINARY_EVENT: "2",
    _BINARY_ACK: "3",
}
# Control characters (C0, DEL, C1), the namespace delimiter and surrogates
# cannot appear in a namespace: "," would end it early, control characters
# include the payload separator \x1e, surrogates cannot be encoded as UTF-8.
_NSP_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f,\ud800-\udfff]")
_ID_DIGITS = re.compile("[0-9]{1,%d}" % (_MAX_ID_DIGITS + 1))
_SURROGATE = re.compile("[\ud800-\udfff]")


@frozen
class Limits:
    """Bounds on what one peer may send in one Socket.IO packet.

    Attributes:
        max_attachments: attachments per binary packet; the announced count
            must be in ``1..max_attachments`` (socket.io-parser
            ``maxAttachments`` default 10, CVE-2026-33151; zero is refused,
            CVE-2026-69185).
        max_attachment_bytes: total size of the attachments of one packet
            (default 1,000,000 bytes, engine.io's ``maxHttpBufferSize``).
        max_json_depth: deepest nesting of lists/objects in the payload (64).
        max_int_digits: longest JSON integer literal (100, python-engineio).
        max_event_name_length: longest event name in characters. Node has no
            cap; 256 is far above real names and keeps names cheap to log and
            use as dict keys.
        max_namespace_length: longest namespace, ``/`` included (256).
        max_ack_id: largest ack id (``2**53 - 1``); at most 16 digits.
    """

    max_attachments: int = 10
    max_attachment_bytes: int = 1_000_000
    max_json_depth: int = 64
    max_int_digits: int = 100
    max_event_name_length: int = 256
    max_namespace_length: int = 256
    max_ack_id: int = MAX_ACK_ID

    def __post_init__(self) -> None:
        for name in (
            "max_attachments",
            "max_attachment_bytes",
            "max_json_depth",
            "max_int_digits",
            "max_event_name_length",
            "max_namespace_length",
            "max_ack_id",
        ):
            value = getattr(self, name)
            if type(value) is not int:
                raise TypeError(f"{name} must be an int")
            if value < (0 if name == "max_ack_id" else 1):
                raise ValueError(f"{name} is out of range")
        if self.max_ack_id >= 10**_MAX_ID_DIGITS:
            raise ValueError(f"max_ack_id must have at most {_MAX_ID_DIGITS} digits")


_DEFAULT_LIMITS = Limits()


@frozen
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: the packet type. Decoders only produce CONNECT, DISCONNECT,
            EVENT, ACK and CONNECT_ERROR; :func:`encode` picks BINARY_* itself.
        namespace: starts with ``/``; ``/`` is the main namespace.
        data: the JSON payload (``None`` when absent) with ``bytes`` values in
            place of the binary attachments. EVENT: ``[name, *args]``; ACK:
            ``[*args]``; CONNECT: ``None`` or a dict (auth from a client,
            ``{"sid": ...}`` from a server); CONNECT_ERROR: a dict
            ``{"message": ..., "data"?: ...}`` or a string.
        id: the ack id, ``0..2**53-1``, or ``None``.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: Optional[int] = None

    @property
    def event(self) -> str:
        """The event name (``data[0]``) of an EVENT packet.

        Raises:
            LocalProtocolError: not an EVENT packet with a string name.
        """
        data = self.data
        if self.type in _EVENT_TYPES and isinstance(data, (list, tuple)) and data:
            name = data[0]
            if isinstance(name, str):
                return name
        raise LocalProtocolError("not an event packet")

    @property
    def args(self) -> List[Any]:
        """The arguments: ``data[1:]`` of an EVENT, ``data`` of an ACK.

        Raises:
            LocalProtocolError: neither an EVENT nor an ACK packet.
        """
        data = self.data
        if isinstance(data, (list, tuple)):
            if self.type in _EVENT_TYPES and data:
                return list(data[1:])
            if self.type in _ACK_TYPES:
                return list(data)
        raise LocalProtocolError("not an event or ack packet")


def _packet_maker() -> Callable[[PacketType, str, Any, Optional[int]], Packet]:
    """A constructor for decoded packets that skips the frozen dataclass ``__init__``.

    A frozen dataclass sets each field through ``object.__setattr__`` from
    Python code; with slots, the slot descriptors do the same from C at a
    third of the cost, and decoders build one packet per message. Equal to
    ``Packet(...)`` in every way (a test checks); without slots (Python 3.9)
    it is ``Packet`` itself.
    """
    names = ("type", "namespace", "data", "id")
    if getattr(Packet, "__slots__", None) != names:
        return Packet
    new = object.__new__
    set_type, set_namespace, set_data, set_id = (vars(Packet)[name].__set__ for name in names)

    def make(ptype: PacketType, namespace: str, data: Any, pid: Optional[int]) -> Packet:
        packet = new(Packet)
        set_type(packet, ptype)
        set_namespace(packet, namespace)
        set_data(packet, data)
        set_id(packet, pid)
        return packet

    return make


_make_packet = _packet_maker()


def connect_error_data(message: Any, data: Any = None) -> Dict[str, Any]:
    """The payload of a CONNECT_ERROR packet: ``{"message": str, "data"?: data}``.

    Node sends ``{message: err.message, data: err.data}``; ``data`` is left out
    when ``None`` (``JSON.stringify`` drops ``undefined``).
    """
    payload: Dict[str, Any] = {"message": str(message)}
    if data is not None:
        payload["data"] = data
    return payload


# --------------------------------------------------------------------------- errors


def _bad(message: str) -> RemoteProtocolError:
    return peer_error(message)


def _too_big(message: str) -> RemoteProtocolError:
    return peer_error(message, CloseCode.MESSAGE_TOO_BIG)


def _invalid_data(message: str) -> RemoteProtocolError:
    return peer_error(message, CloseCode.INVALID_DATA)


# --------------------------------------------------------------------------- validation


def validate_namespace(namespace: Any, max_length: int) -> None:
    """Check a namespace a peer sent.

    A namespace is a ``str`` that starts with ``/``, is at most ``max_length``
    characters long and holds no ``,``, control character or surrogate.

    Raises:
        RemoteProtocolError: otherwise.
    """
    if type(namespace) is not str or namespace[:1] != "/":
        raise _bad("invalid namespace")
    if len(namespace) > max_length:
        raise _bad("namespace too long")
    if _NSP_FORBIDDEN.search(namespace) is not None:
        raise _bad("invalid character in namespace")


def validate_incoming(
    ptype: PacketType,
    data: Any,
    id: Optional[int],
    limits: Limits,
    role: str,
) -> None:
    """Check the payload and ack id of a decoded packet against its type.

    ``ptype`` is a :class:`PacketType` member (compared by identity), EVENT
    or ACK for binary packets too. Rules (spec "Exchange
    protocol" plus socket.io-parser ``isPayloadValid``):

    * EVENT: a non-empty list whose first item is a non-empty ``str`` of at
      most ``limits.max_event_name_length`` characters, not in
      :data:`RESERVED_EVENTS` (numbers are not accepted as names, CVE-2023-32695).
    * ACK: a list, and an ack id.
    * CONNECT: from a client ``None`` or a dict (auth); from a server a dict
      whose ``"sid"`` is a non-empty ``str``.
    * DISCONNECT: no payload.
    * CONNECT_ERROR: only from a server; a ``str`` or a dict.
    * Only EVENT and ACK carry an ack id.

    Raises:
        RemoteProtocolError: the packet breaks one of the rules.
    """
    if ptype is _EVENT:
        if type(data) is not list or not data:
            raise _bad("EVENT payload must be a non-empty array")
        name = data[0]
        if type(name) is not str or not name:
            raise _bad("event name must be a non-empty string")
        if len(name) > limits.max_event_name_length:
            raise _bad("event name too long")
        if name in RESERVED_EVENTS:
            raise _bad("reserved event name")
        return
    if ptype is _ACK:
        if type(data) is not list:
            raise _bad("ACK payload must be an array")
        if id is None:
            raise _bad("ACK without an ack id")
        return
    if id is not None:
        raise _bad("only EVENT and ACK packets carry an ack id")
    if ptype is _CONNECT:
        if role == "server":
            if data is not None and type(data) is not dict:
                raise _bad("CONNECT payload must be an object")
        elif type(data) is not dict or type(data.get("sid")) is not str or not data["sid"]:
            raise _bad("CONNECT payload must be an object with a sid")
    elif ptype is _DISCONNECT:
        if data is not None:
            raise _bad("DISCONNECT carries no payload")
    elif ptype is _CONNECT_ERROR:
        if role == "server":
            raise _bad("CONNECT_ERROR is sent by servers only")
        if type(data) is not str and type(data) is not dict:
            raise _bad("CONNECT_ERROR payload must be a string or an object")
    else:
        raise _bad("unknown packet type")


def check_outgoing(packet: Packet) -> PacketType:
    """Check a packet we are about to send, so that it decodes on the other side.

    Checks the namespace (as :func:`validate_namespace`, without a length
    cap), the ack id (an ``int`` in ``0..2**53-1``, only on EVENT/ACK,
    required on ACK) and the payload shape for the type (EVENT: a non-empty
    list/tuple with a non-empty ``str`` name; ACK: a list/tuple; CONNECT:
    ``None`` or a dict; DISCONNECT: ``None``; CONNECT_ERROR: a ``str`` or a
    dict). Reserved event names are the Socket.IO layer's business, not
    checked here.

    Returns:
        The packet type as a :class:`PacketType` (a plain ``int`` is accepted).

    Raises:
        LocalProtocolError: the packet cannot be sent as is.
    """
    ptype = packet.type
    if type(ptype) is not PacketType:
        ptype = _TYPE_BY_VALUE.get(ptype) if type(ptype) is int else None  # type: ignore[assignment]
        if ptype is None:
            raise LocalProtocolError(f"unknown packet type {packet.type!r}")
    nsp = packet.namespace
    if nsp != "/" and (
        not isinstance(nsp, str) or nsp[:1] != "/" or _NSP_FORBIDDEN.search(nsp) is not None
    ):
        raise LocalProtocolError(f"invalid namespace {nsp!r}")
    data = packet.data
    pid = packet.id
    if ptype in _EVENT_TYPES:
        if not isinstance(data, (list, tuple)) or not data:
            raise LocalProtocolError("EVENT data must be a non-empty list")
        if not isinstance(data[0], str) or not data[0]:
            raise LocalProtocolError("event name must be a non-empty string")
    elif ptype in _ACK_TYPES:
        if not isinstance(data, (list, tuple)):
            raise LocalProtocolError("ACK data must be a list")
        if pid is None:
            raise LocalProtocolError("ACK needs an ack id")
    else:
        if pid is not None:
            raise LocalProtocolError("only EVENT and ACK packets carry an ack id")
        if ptype is _CONNECT:
            if data is not None and not isinstance(data, dict):
                raise LocalProtocolError("CONNECT data must be a dict or None")
        elif ptype is _DISCONNECT:
            if data is not None:
                raise LocalProtocolError("DISCONNECT carries no data")
        elif ptype is _CONNECT_ERROR:
            if not isinstance(data, (str, dict)):
                raise LocalProtocolError("CONNECT_ERROR data must be a str or a dict")
    if pid is not None and (type(pid) is not int or not 0 <= pid <= MAX_ACK_ID):
        raise LocalProtocolError("ack id must be an int in 0..2**53-1")
    return ptype


# --------------------------------------------------------------------------- encoding


class _BinaryFound(Exception):
    """Raised by the JSON fast path at the first binary value; the slow path takes over."""


def _no_binary(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise _BinaryFound
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# Built once: the common packet (no binary) is one pass of the C encoder.
_FAST = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_no_binary)
_FAST_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
# The circular-reference markers of the prebuilt C encoder below. The encoder
# removes each container's entry as it finishes with it, so the dict is empty
# between calls; after a failure it may keep entries and is cleared.
_MARKERS: Dict[int, Any] = {}


def _c_encoder() -> Optional[Callable[[Any, int], Any]]:
    """``_FAST``'s C encoder, built once instead of per call.

    ``JSONEncoder.encode`` builds a new C encoder object, a markers dict and a
    closure on every call (about two thirds of its cost for a small packet);
    this one is built here with the same arguments. It returns the chunks to
    join. None (use ``_FAST.encode``) where the C accelerator is missing or its
    signature differs from the one checked here.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(_MARKERS, _no_binary, json.encoder.encode_basestring, None, ":", ",", False, False, False)
        probe = ["é\u2028", {"k": [1, -2.5, None, True, ("t",)]}, "x"]
        if "".join(encoder(probe, 0)) != _FAST.encode(probe):
            return None
    except Exception:  # pragma: no cover - another Python's json internals
        return None
    finally:
        _MARKERS.clear()
    return encoder  # type: ignore[no-any-return]


_C_ENCODE = _c_encoder()


def _dumps(obj: Any) -> str:
    if _C_ENCODE is None:
        text = _FAST.encode(obj)
    else:
        try:
            text = "".join(_C_ENCODE(obj, 0))
        except BaseException:
            _MARKERS.clear()
            raise
    if not text.isascii() and _SURROGATE.search(text) is not None:
        # A lone surrogate cannot be sent as UTF-8: escape it as JSON.stringify does.
        text = _FAST_ASCII.encode(obj)
    return text


def encode(packet: Packet, *, dumps: Optional[Callable[[Any], str]] = None) -> List[Union[str, bytes]]:
    """Encode a packet as socket.io-parser's ``Encoder`` does.

    Args:
        packet: the packet. ``data`` may hold ``bytes``/``bytearray``/
            ``memoryview`` at any depth of lists, tuples and dicts (only in
            EVENT and ACK packets); tuples are written as arrays.
        dumps: a JSON encoder ``(obj) -> str`` to use instead of the built-in
            compact one (which writes ``JSON.stringify``'s format). It never
            sees binary values: they are replaced by placeholders first.

    Returns:
        ``[text, *attachments]``: the text message, then one ``bytes`` per
        binary value (depth-first order). With attachments the text starts
        with ``5<n>-`` (BINARY_EVENT) or ``6<n>-`` (BINARY_ACK), whatever the
        packet's type said.

    Raises:
        LocalProtocolError: the packet breaks :func:`check_outgoing`, or has
            binary data in a packet other than EVENT/ACK.
        TypeError, ValueError: ``data`` holds something JSON cannot represent
            (an arbitrary object, ``NaN``, a circular reference).
    """
    ptype = check_outgoing(packet)
    data = packet.data
    attachments: List[bytes] = []
    if data is None:
        body = ""
    elif dumps is None:
        try:
            body = _dumps(data)
        except _BinaryFound:
            data, attachments = deconstruct(data)
            body = _dumps(data)
    else:
        if has_binary(data):
            data, attachments = deconstruct(data)
        body = dumps(data)
    if attachments:
        if ptype in _EVENT_TYPES:
            head = "5%d-" % len(attachments)
        elif ptype in _ACK_TYPES:
            head = "6%d-" % len(attachments)
        else:
            raise LocalProtocolError("binary data is only allowed in EVENT and ACK packets")
    else:
        head = _PLAIN_CHAR[ptype]
    nsp = packet.namespace
    if nsp != "/":
        head = head + nsp + ","
    if packet.id is not None:
        head = head + str(packet.id)
    if attachments:
        return [head + body, *attachments]
    return [head + body]


def _plain_text(char: str, namespace: Any, data: Any, ack_id: Any) -> Optional[str]:
    """The text of a packet without attachments, or None where :func:`encode` must decide.

    Covers exactly the fields :func:`check_outgoing` accepts for ``data`` a
    ``list``; anything else (binary values, a value JSON cannot represent, an
    invalid field) returns None and :func:`encode` produces the result or the
    error itself.
    """
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
        return None
    if namespace == "/":
        head = char
    elif type(namespace) is str and namespace[:1] == "/" and _NSP_FORBIDDEN.search(namespace) is None:
        head = char + namespace + ","
    else:
        return None
    if _C_ENCODE is None:
        return None
    try:
        body = "".join(_C_ENCODE(data, 0))
    except BaseException:
        _MARKERS.clear()
        return None
    if not body.isascii() and _SURROGATE.search(body) is not None:
        return None
    if ack_id is None:
        return head + body
    return head + str(ack_id) + body


def encode_event(namespace: str, data: List[Any], ack_id: Optional[int] = None) -> List[Union[str, bytes]]:
    """``encode(Packet(PacketType.EVENT, namespace, data, ack_id))`` without building the packet.

    For the sending path of a server, where ``data`` (``[name, *args]``) is a
    list it just built: the common packet (no binary values) is one call of the
    C JSON encoder. The result, and any error, is that of :func:`encode`.
    (tests/unit/protocol/test_socketio_fast_paths.py::test_encode_event_and_ack_agree_with_encode
    keeps them equal.)
    """
    if type(data) is list and data:
        name = data[0]
        if type(name) is str and name:
            if namespace == "/" and ack_id is None and _C_ENCODE is not None:
                # _plain_text's most common case, inline
                try:
                    body = "".join(_C_ENCODE(data, 0))
                except BaseException:
                    _MARKERS.clear()
                else:
                    if body.isascii() or _SURROGATE.search(body) is None:
                        return ["2" + body]
            else:
                text = _plain_text("2", namespace, data, ack_id)
                if text is not None:
                    return [text]
    return encode(_make_packet(_EVENT, namespace, data, ack_id))


def encode_ack(namespace: str, data: List[Any], ack_id: int) -> List[Union[str, bytes]]:
    """``encode(Packet(PacketType.ACK, namespace, data, ack_id))`` without building the packet
    (see :func:`encode_event`)."""
    if type(data) is list and ack_id is not None:
        text = _plain_text("3", namespace, data, ack_id)
        if text is not None:
            return [text]
    return encode(_make_packet(_ACK, namespace, data, ack_id))


# --------------------------------------------------------------------------- decoding


class _Assembly:
    """A binary packet whose header arrived and whose attachments are awaited."""

    __slots__ = ("type", "namespace", "data", "id", "count", "slots", "buffers", "size")

    def __init__(
        self,
        ptype: PacketType,
        namespace: str,
        data: Any,
        pid: Optional[int],
        count: int,
        slots: List[Slot],
    ) -> None:
        self.type = ptype
        self.namespace = namespace
        self.data = data
        self.id = pid
        self.count = count
        self.slots = slots
        self.buffers: List[bytes] = []
        self.size = 0


class Decoder:
    """Incremental Socket.IO v5 decoder for one connection.

    Args:
        limits: the bounds to enforce (:class:`Limits`).
        role: ``"server"`` to decode what a client sends, ``"client"`` to
            decode what a server sends (see :func:`validate_incoming`).
        loads: a JSON decoder ``(str) -> Any`` to use instead of the built-in
            one. The depth and surrogate checks still run on the text, and any
            exception it raises becomes a :class:`RemoteProtocolError`; the
            integer-length and non-finite-number checks become its job.

    Feed it every Engine.IO MESSAGE of the connection, in order, with
    :meth:`feed`. Not thread-safe; one decoder per connection.
    """

    __slots__ = ("limits", "role", "_client", "_reader", "_loads", "_pending", "_short", "_scan_short")

    def __init__(
        self,
        limits: Limits = _DEFAULT_LIMITS,
        *,
        role: str = "server",
        loads: Optional[Callable[[str], Any]] = None,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError("limits must be a Limits instance")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.limits = limits
        self.role = role
        self._client = role == "client"
        self._reader = reader = shared_reader(limits.max_json_depth, limits.max_int_digits)
        self._loads = loads
        self._pending: Optional[_Assembly] = None
        # the fast path of feed(): JSON texts up to this long (0: off, a custom loads decides)
        self._short = reader.short if loads is None else 0
        self._scan_short = reader.scan_short

    @property
    def awaiting_attachments(self) -> bool:
        """True between a binary packet's text and its last attachment."""
        return self._pending is not None

    def reset(self) -> None:
        """Drop a partially received binary packet (call it on disconnect)."""
        self._pending = None

    def feed(self, message: Union[str, bytes]) -> Optional[Packet]:
        """Decode the next message of the connection.

        Args:
            message: a text message (``str``) or a binary attachment
                (``bytes``, ``bytearray`` or ``memoryview``).

        Returns:
            The packet, or ``None`` while a binary packet still waits for
            attachments.

        Raises:
            RemoteProtocolError: the message is invalid, is text while
                attachments are awaited ("got plaintext data when
                reconstructing a packet", gap G3), is binary while none are,
                or is neither ``str`` nor bytes. The partial packet, if any, is
                dropped.
        """
        if type(message) is str:
            if self._pending is not None:
                self._pending = None
                raise _bad("text message while waiting for binary attachments")
            # Fast path: an EVENT or ACK of the main namespace, the ack id, then
            # a short JSON array ('2["echo","hi"]', '312["x"]'). Every check of
            # the general path is made here too, or ruled out by the length;
            # anything unusual or invalid falls through to _parse_text, which
            # decides (and raises) exactly as it always does.
            # tests/unit/protocol/test_socketio_fast_paths.py::test_feed_agrees_with_the_general_parser*
            # keep the two equal.
            n = len(message)
            kind = message[:1]
            if (kind == "2" or kind == "3") and n > 2:
                pid: Optional[int] = None
                if message[1] == "[":
                    i = 1
                else:
                    i = message.find("[", 2, 2 + _MAX_ID_DIGITS)
                    if i > 0:
                        digits = message[1:i]
                        if digits.isdigit() and digits.isascii():
                            pid = int(digits)
                            if pid > self.limits.max_ack_id:
                                i = 0
                        else:
                            i = 0
                if (
                    0 < i
                    and n - i <= self._short
                    and (n - i <= self.limits.max_json_depth
                         or message.count("[", i) + message.count("{", i) <= self.limits.max_json_depth)
                    and "\\u" not in message
                    and (message.isascii() or _SURROGATE.search(message) is None)
                ):
                    try:
                        data, end = self._scan_short(message, i)
                    except Exception:  # invalid: _parse_text below says how
                        end = 0
                    if end == n:
                        if kind == "2":
                            if (
                                type(data) is list
                                and data
                                and type(data[0]) is str
                                and 0 < len(data[0]) <= self.limits.max_event_name_length
                                and data[0] not in RESERVED_EVENTS
                            ):
                                return _make_packet(_EVENT, "/", data, pid)
                        elif type(data) is list and pid is not None:
                            return _make_packet(_ACK, "/", data, pid)
            result = self._parse_text(message)
            if type(result) is Packet:
                return result
            self._pending = result  # type: ignore[assignment]
            return None
        if isinstance(message, (bytes, bytearray, memoryview)):
            return self._take_attachment(message)
        if isinstance(message, str):
            return self.feed(str(message))
        self._pending = None
        raise _bad("message must be str or bytes")

    def _take_attachment(self, message: Union[bytes, bytearray, memoryview]) -> Optional[Packet]:
        pending = self._pending
        if pending is None:
            raise _bad("binary message while no attachment is expected")
        chunk = message if type(message) is bytes else bytes(message)
        pending.size += len(chunk)
        if pending.size > self.limits.max_attachment_bytes:
            self._pending = None
            raise _too_big("binary attachments too large")
        buffers = pending.buffers
        buffers.append(chunk)
        if len(buffers) < pending.count:
            return None
        self._pending = None
        fill_placeholders(pending.slots, buffers)
        return _make_packet(pending.type, pending.namespace, pending.data, pending.id)

    def _parse_text(self, text: str) -> Union[Packet, _Assembly]:
        """Parse one text message into a packet, or the header of a binary one. Stateless."""
        n = len(text)
        if not n:
            raise _bad("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise _bad("unknown packet type")
        limits = self.limits
        i = 1
        count = 0
        if ptype is _BINARY_EVENT or ptype is _BINARY_ACK:
            dash = text.find("-", 1, 2 + _MAX_COUNT_DIGITS)
            digits = text[1:dash]
            if dash < 0 or not digits or not (digits.isascii() and digits.isdigit()):
                raise _bad("illegal attachments")
            count = int(digits)
            if count < 1:
                raise _bad("illegal attachments")
            if count > limits.max_attachments:
                raise _bad("too many attachments")
            ptype = _EVENT if ptype is _BINARY_EVENT else _ACK
            i = dash + 1
        nsp = "/"
        if i < n and text[i] == "/":
            cap = limits.max_namespace_length
            comma = text.find(",", i, i + cap + 1)
            if comma < 0:
                if n - i > cap:
                    raise _bad("namespace too long")
                nsp = text[i:]
                i = n
            else:
                nsp = text[i:comma]
                i = comma + 1
            if _NSP_FORBIDDEN.search(nsp) is not None:
                raise _bad("invalid character in namespace")
        pid: Optional[int] = None
        if i < n and "0" <= text[i] <= "9":
            j = _ID_DIGITS.match(text, i).end()  # type: ignore[union-attr]  # text[i] is a digit
            if j - i > _MAX_ID_DIGITS:
                raise _bad("ack id too long")
            pid = int(text[i:j])
            if pid > limits.max_ack_id:
                raise _bad("ack id out of range")
            i = j
        data: Any = None
        if i < n:
            loads = self._loads
            if loads is None:
                data = self._reader.parse(text, i)
            else:
                data = self._custom_loads(loads, text, i)
        # The common packet, a plain EVENT with a valid name, is checked inline;
        # everything else (and every failure) goes through validate_incoming.
        if not (
            ptype is _EVENT
            and type(data) is list
            and data
            and type(data[0]) is str
            and 0 < len(data[0]) <= limits.max_event_name_length
            and data[0] not in RESERVED_EVENTS
        ):
            validate_incoming(ptype, data, pid, limits, self.role)
        if count:
            return _Assembly(ptype, nsp, data, pid, count, locate_placeholders(data, count))
        return _make_packet(ptype, nsp, data, pid)

    def _custom_loads(self, loads: Callable[[str], Any], text: str, start: int) -> Any:
        # The text-only checks run first: a recursive third-party parser must
        # not see 10k nested brackets (gap G7).
        check_text(text, start, self.limits.max_json_depth)
        body = text[start:]
        try:
            value = loads(body)
        except Exception:  # the peer's bytes reached third-party code: any failure is theirs
            raise _invalid_data("invalid JSON") from None
        if "\\u" in body and has_lone_surrogate(value):
            raise _invalid_data("lone surrogate in JSON string")
        return value


@lru_cache(maxsize=16)
def _shared_decoder(limits: Limits, role: str) -> Decoder:
    return Decoder(limits, role=role)


def decode(text: str, limits: Limits = _DEFAULT_LIMITS, role: str = "server") -> Packet:
    """Decode one complete text packet (no attachments).

    Convenience for tests and tools; a connection uses a :class:`Decoder`.

    Raises:
        RemoteProtocolError: the text is invalid, or announces attachments.
    """
    if not isinstance(text, str):
        raise _bad("packet must be str")
    result = _shared_decoder(limits, role)._parse_text(str(text))
    if type(result) is not Packet:
        raise _bad("binary packet needs its attachments: use Decoder")
    return result
