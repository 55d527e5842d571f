"""WebSocket framing (RFC 6455) and the opening-handshake helpers, pure: no I/O.

Theory of operation: the transport reads whatever the socket has (64 KiB at a
time), hands it to :meth:`FrameParser.feed` and then drains
:meth:`FrameParser.events`, which yields every complete :class:`Message`,
:class:`Ping`, :class:`Pong` and :class:`Close` in the buffer. A frame header
is validated as soon as its bytes are there, *before* any of its payload is
waited for: a declared length over the limit fails at once with close code
1009, so a peer cannot make us buffer what we would reject (advisory row E8;
gevent-websocket's ``read_frame`` reads whatever length the header declares).

The parser's only failure mode on bad input is
:class:`~siothread.errors.RemoteProtocolError`, whose ``close_code`` is the
code to close the connection with. Errors are final: once one is raised, every
later :meth:`FrameParser.next_event` raises the same error again and fed bytes
are dropped; the connection must be closed, a parser is never reset.

Unmasking works on whole payloads (a big-integer XOR for small payloads,
``bytes.translate`` over the four byte lanes for large ones, like wsproto's
``XorMaskerSimple``), never a Python loop per byte; text is validated by one
strict ``bytes.decode("utf-8")`` of the complete message.

The encoders return header and payload in one ``bytes`` object; a client
(``mask=True``) masks with a fresh ``os.urandom(4)`` key per frame (RFC 6455
section 5.3). permessage-deflate (RFC 7692) lives in :mod:`.ws_deflate`.
"""
from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import struct
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from ..errors import CloseCode, EngineErrorCode, LocalProtocolError, RemoteProtocolError, peer_error
from ._compat import frozen
from .ws_deflate import PerMessageDeflate

__all__ = [
    "Opcode",
    "Message",
    "Ping",
    "Pong",
    "Close",
    "Event",
    "FrameParser",
    "PerMessageDeflate",
    "HandshakeError",
    "encode_frame",
    "encode_text",
    "encode_binary",
    "encode_close",
    "encode_ping",
    "encode_pong",
    "accept_key",
    "check_upgrade_request",
    "headers_from_environ",
    "response_headers",
    "client_key",
    "check_response_accept",
    "is_valid_close_code",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MAX_FRAGMENTS",
    "MAX_CONTROL_PAYLOAD",
    "WEBSOCKET_VERSION",
]

# engine.io's maxHttpBufferSize default (1e6), applied to WebSocket messages too.
DEFAULT_MAX_MESSAGE_SIZE = 1_000_000
# ws 8.23 defaults maxFragments to 16384; browsers and engine.io clients never
# fragment what they send, so a far lower cap costs nothing and bounds the
# per-fragment work of a message built from empty or one-byte frames (E8).
DEFAULT_MAX_FRAGMENTS = 1024
MAX_CONTROL_PAYLOAD = 125  # RFC 6455 section 5.5
_MAX_LIMIT = 2**62  # keeps every size sum and zlib max_length far from overflow


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


@frozen
class Message:
    """A complete data message: ``str`` (validated UTF-8) for text, ``bytes`` for binary."""

    data: Union[str, bytes]


@frozen
class Ping:
    """A PING control frame; answer with :func:`encode_pong` of the same payload."""

    payload: bytes


@frozen
class Pong:
    """A PONG control frame."""

    payload: bytes


@frozen
class Close:
    """A CLOSE frame; ``code`` is 1005 (and ``reason`` empty) when the frame had no body."""

    code: int
    reason: str


Event = Union[Message, Ping, Pong, Close]


def is_valid_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` in a CLOSE frame (RFC 6455 section 7.4).

    1000-1003 and 1007-1011 are RFC 6455's; 1012-1014 (service restart, try
    again later, bad gateway) are registered with IANA and sent by real servers,
    so they are accepted as by ``ws`` and browsers; 3000-4999 belong to
    libraries and applications. 1004, 1005, 1006, 1015 and everything else
    are invalid.
    """
    return 1000 <= code <= 1014 and code not in (1004, 1005, 1006) or 3000 <= code <= 4999


def _fail(message: str, code: int = CloseCode.PROTOCOL_ERROR) -> RemoteProtocolError:
    return peer_error(message, code)


# -- masking ---------------------------------------------------------------

# One 256-byte translation table per key byte: _XOR_TABLES[k][b] == b ^ k.
# Built with one big-integer XOR per table (the import costs ~0.3 ms).
_IDENTITY = bytes(range(256))
_XOR_TABLES = [
    (int.from_bytes(_IDENTITY, "little") ^ int.from_bytes(bytes((k,)) * 256, "little")).to_bytes(
        256, "little"
    )
    for k in range(256)
]
# Measured on CPython 3.11: the big-integer XOR runs at ~180 MB/s and wins
# below ~1 KiB (no slicing overhead); the four translate lanes run at ~400 MB/s.
_TRANSLATE_FROM = 1024


def _mask(data: bytearray, key: Union[bytes, bytearray]) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``key`` (masking and unmasking are the same).

    ``data`` must be a fresh bytearray the caller does not use again: large
    payloads are transformed in place.
    """
    n = len(data)
    if n < _TRANSLATE_FROM:
        if not n:
            return b""
        repeated = bytes(key) * (n // 4 + 1)
        return (
            int.from_bytes(data, "little") ^ int.from_bytes(repeated[:n], "little")
        ).to_bytes(n, "little")
    data[0::4] = data[0::4].translate(_XOR_TABLES[key[0]])
    data[1::4] = data[1::4].translate(_XOR_TABLES[key[1]])
    data[2::4] = data[2::4].translate(_XOR_TABLES[key[2]])
    data[3::4] = data[3::4].translate(_XOR_TABLES[key[3]])
    return bytes(data)


# -- parser ----------------------------------------------------------------


def _compressed_wire_limit(max_size: int, max_fragments: int) -> int:
    # A compressed message is capped at max_size once inflated; on the wire it
    # may exceed max_size by zlib's worst-case expansion of incompressible data
    # (deflateBound's conservative formula) plus a sync-flush block per fragment.
    return max_size + ((max_size + 7) >> 3) + ((max_size + 63) >> 6) + 5 + 6 * max_fragments


class FrameParser:
    """Incremental RFC 6455 frame parser and message reassembler.

    Args:
        expect_masked: True on the server (every client frame must be
            masked), False on the client (no server frame may be masked).
        max_message_size: the largest data message, in payload bytes (after
            inflating, for compressed messages). Checked against each frame
            header, cumulatively across fragments, before the payload is
            buffered: close code 1009.
        max_fragments: the most frames one data message may span: close code
            1009 (``ws`` uses 1008 for its ``maxFragments``; 1009 is the "too
            big" the E8 plan names, and a fragment count is a size).
        deflate: the agreed :class:`PerMessageDeflate` of this connection, if
            any; its role must match ``expect_masked``.

    Feed bytes with :meth:`feed`; then take events with :meth:`events` (all
    complete ones) or :meth:`next_event` (one, or None when more bytes are
    needed). Call one of them after every :meth:`feed`: the parser only
    bounds what it has looked at, so bytes fed and never parsed are held.
    Control frames are returned as they arrive, also in the middle of a
    fragmented message. After a :class:`Close` the parser is finished: it
    returns no more events and drops further bytes.

    Non-minimal length encodings (say 5 in the 16-bit form) are accepted, as
    ``ws`` does and wsproto does not: RFC 6455 puts the "minimal number of
    bytes" duty on the sender, and the limits apply to the decoded length
    either way. Text is validated per complete message, so an invalid
    fragmented text message fails when its last fragment arrives.

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        *,
        expect_masked: bool = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_fragments: int = DEFAULT_MAX_FRAGMENTS,
        deflate: Optional[PerMessageDeflate] = None,
    ) -> None:
        if not isinstance(max_message_size, int) or not 0 <= max_message_size < _MAX_LIMIT:
            raise ValueError("max_message_size must be a non-negative int below 2**62")
        if not isinstance(max_fragments, int) or not 1 <= max_fragments < _MAX_LIMIT:
            raise ValueError("max_fragments must be a positive int")
        if deflate is not None:
            if deflate.is_server is None:
                raise ValueError("deflate must be an agreed PerMessageDeflate, not a template")
            if deflate.is_server != bool(expect_masked):
                raise ValueError("deflate was agreed for the other role")
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already consumed
        self._mask_bit = 0x80 if expect_masked else 0
        self._max = max_message_size
        self._max_fragments = max_fragments
        self._deflate = deflate
        self._compressed_max = _compressed_wire_limit(max_message_size, max_fragments)
        # The fragmented message in progress (_msg_opcode 0: none).
        self._msg_opcode = 0
        self._msg_compressed = False
        self._msg_parts = bytearray()
        self._msg_fragments = 0
        self._need = 2
        self._closed = False
        self._error: Optional[RemoteProtocolError] = None

    @property
    def closed(self) -> bool:
        """True once a CLOSE frame was returned."""
        return self._closed

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet consumed by complete frames (a partial frame)."""
        return len(self._buf) - self._pos

    @property
    def bytes_needed(self) -> int:
        """After :meth:`next_event` returned None: the fewest bytes that could produce progress.

        That is, the rest of the current frame header, or the rest of its
        payload once the header is complete. A hint for readers that want
        exact reads; reading more is always fine.
        """
        return self._need

    @property
    def message_in_progress(self) -> bool:
        """True between the first and the last frame of a fragmented message."""
        return self._msg_opcode != 0

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Append bytes received from the peer (dropped after a Close or an error)."""
        if self._closed or self._error is not None:
            return
        if self._pos:
            # Compact once per feed, not per frame. CPython deletes from the
            # front of a bytearray by moving its start pointer, so this is O(1).
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def events(self) -> Iterator[Event]:
        """Yield every complete event in the buffer.

        Raises:
            RemoteProtocolError: the peer broke the protocol (after the events
                that preceded the violation were yielded).
        """
        next_event = self.next_event
        while True:
            event = next_event()
            if event is None:
                return
            yield event

    def next_event(self) -> Optional[Event]:
        """The next complete event, or None when more bytes are needed.

        Raises:
            RemoteProtocolError: the peer broke the protocol; raised again by every later call.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except RemoteProtocolError as exc:
            self._error = exc
            self._buf = bytearray()
            self._pos = 0
            self._msg_parts = bytearray()
            raise

    def _next(self) -> Optional[Event]:
        if self._closed:
            return None
        buf = self._buf
        while True:
            pos = self._pos
            avail = len(buf) - pos
            if avail < 2:
                self._need = 2 - avail
                return None
            b0 = buf[pos]
            b1 = buf[pos + 1]
            opcode = b0 & 0x0F
            length = b1 & 0x7F

            # Everything the first two bytes can tell is checked before waiting for more.
            if b0 & 0x70:
                # RSV1 is permessage-deflate's "compressed" bit: only on the first
                # frame of a data message (RFC 7692 section 6). RSV2/RSV3: no extension.
                if b0 & 0x30 or self._deflate is None or not 1 <= opcode <= 2:
                    raise _fail("reserved bit set")
            if opcode >= 8:
                if opcode > 10:
                    raise _fail(f"unknown opcode {opcode}")
                if not b0 & 0x80:
                    raise _fail("fragmented control frame")
                if length > MAX_CONTROL_PAYLOAD:
                    raise _fail("control frame payload over 125 bytes")
                if opcode == 8 and length == 1:
                    raise _fail("close frame with a 1-byte payload")
            elif opcode == 0:
                if not self._msg_opcode:
                    raise _fail("continuation frame without a message in progress")
            elif opcode > 2:
                raise _fail(f"unknown opcode {opcode}")
            elif self._msg_opcode:
                raise _fail("new data frame before the fragmented message ended")
            if (b1 & 0x80) != self._mask_bit:
                raise _fail("unmasked client frame" if self._mask_bit else "masked server frame")

            header = 2
            if length == 126:
                if avail < 4:
                    self._need = 4 - avail
                    return None
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                header = 4
            elif length == 127:
                if avail < 10:
                    self._need = 10 - avail
                    return None
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise _fail("64-bit payload length with the most significant bit set")
                header = 10
            if opcode < 8:
                if opcode:
                    size = length
                    limit = self._compressed_max if b0 & 0x40 else self._max
                else:
                    if self._msg_fragments >= self._max_fragments:
                        raise _fail("too many fragments", CloseCode.MESSAGE_TOO_BIG)
                    size = len(self._msg_parts) + length
                    limit = self._compressed_max if self._msg_compressed else self._max
                if size > limit:
                    raise _fail("message too big", CloseCode.MESSAGE_TOO_BIG)
            if self._mask_bit:
                header += 4
            end = pos + header + length
            if len(buf) < end:
                self._need = end - len(buf)
                return None

            start = pos + header
            if self._mask_bit:
                payload = _mask(buf[start:end], buf[start - 4 : start])
            else:
                payload = bytes(buf[start:end])
            self._pos = end

            if opcode >= 8:
                if opcode == 9:
                    return Ping(payload)
                if opcode == 10:
                    return Pong(payload)
                return self._close(payload)
            if opcode:
                if b0 & 0x80:
                    return self._message(opcode, bool(b0 & 0x40), payload)
                self._msg_opcode = opcode
                self._msg_compressed = bool(b0 & 0x40)
                self._msg_parts = bytearray(payload)
                self._msg_fragments = 1
                continue
            self._msg_parts += payload
            self._msg_fragments += 1
            if b0 & 0x80:
                opcode, compressed, parts = self._msg_opcode, self._msg_compressed, self._msg_parts
                self._msg_opcode = 0
                self._msg_parts = bytearray()
                self._msg_fragments = 0
                return self._message(opcode, compressed, parts)

    def _message(self, opcode: int, compressed: bool, payload: Union[bytes, bytearray]) -> Message:
        if compressed:
            assert self._deflate is not None  # RSV1 is refused above without deflate
            payload = self._deflate.decompress(payload, self._max)
        if opcode == 1:
            try:
                return Message(payload.decode("utf-8"))
            except UnicodeDecodeError:
                raise _fail("text message is not valid UTF-8", CloseCode.INVALID_DATA) from None
        return Message(payload if type(payload) is bytes else bytes(payload))

    def _close(self, payload: bytes) -> Close:
        self._closed = True
        self._msg_opcode = 0
        self._msg_parts = bytearray()
        self._buf = bytearray()
        self._pos = 0
        if not payload:
            return Close(int(CloseCode.NO_STATUS), "")
        code = (payload[0] << 8) | payload[1]
        if not is_valid_close_code(code):
            raise _fail(f"invalid close code {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("close reason is not valid UTF-8", CloseCode.INVALID_DATA) from None
        return Close(code, reason)


# -- encoders --------------------------------------------------------------

_HEADER_SHORT = struct.Struct("!BB")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_OPCODES = frozenset(int(op) for op in Opcode)
Payload = Union[bytes, bytearray, memoryview]


def encode_frame(
    opcode: Opcode, payload: Payload, *, fin: bool = True, rsv1: bool = False, mask: bool = False
) -> bytes:
    """One frame, header and payload in one ``bytes`` (RFC 6455 section 5.2).

    Args:
        opcode: the frame's opcode.
        payload: the payload (already compressed when ``rsv1``).
        fin: last frame of its message.
        rsv1: permessage-deflate's "compressed" bit (first frame of a message).
        mask: mask with a fresh random key (the client role must).

    Raises:
        LocalProtocolError: an unknown opcode, or a control frame that is
            fragmented, over 125 bytes or has RSV1.
    """
    op = int(opcode)
    if op not in _OPCODES:
        raise LocalProtocolError(f"unknown opcode {op}")
    n = len(payload)
    if op >= 8 and (n > MAX_CONTROL_PAYLOAD or not fin or rsv1):
        raise LocalProtocolError("control frames are unfragmented, uncompressed and at most 125 bytes")
    b0 = op | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = _HEADER_SHORT.pack(b0, mask_bit | n)
    elif n < 65536:
        header = _HEADER_16.pack(b0, mask_bit | 126, n)
    else:
        header = _HEADER_64.pack(b0, mask_bit | 127, n)
    if mask:
        key = os.urandom(4)
        return b"".join((header, key, _mask(bytearray(payload), key)))
    return b"".join((header, payload))


def _encode_data(
    opcode: Opcode, payload: bytes, deflate: Optional[PerMessageDeflate], mask: bool
) -> bytes:
    if deflate is not None and deflate.wants_compression(len(payload)):
        return encode_frame(opcode, deflate.compress(payload), rsv1=True, mask=mask)
    return encode_frame(opcode, payload, mask=mask)


def encode_text(text: str, *, deflate: Optional[PerMessageDeflate] = None, mask: bool = False) -> bytes:
    """A complete text message in one frame, compressed when ``deflate`` wants it.

    Raises:
        LocalProtocolError: ``text`` holds a lone surrogate (not encodable as UTF-8).
    """
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalProtocolError("text message is not encodable as UTF-8") from None
    return _encode_data(Opcode.TEXT, payload, deflate, mask)


def encode_binary(
    data: Payload, *, deflate: Optional[PerMessageDeflate] = None, mask: bool = False
) -> bytes:
    """A complete binary message in one frame, compressed when ``deflate`` wants it."""
    return _encode_data(Opcode.BINARY, bytes(data), deflate, mask)


def encode_close(code: int = CloseCode.NORMAL, reason: str = "", *, mask: bool = False) -> bytes:
    """A CLOSE frame. ``code`` 1005 (no status) sends an empty body, so a received
    ``Close(1005, "")`` can be echoed as is. ``reason`` is cut at a character
    boundary to fit 123 bytes.

    Raises:
        LocalProtocolError: ``code`` may not be sent (see :func:`is_valid_close_code`),
            or a reason was given with 1005.
    """
    code = int(code)
    if code == CloseCode.NO_STATUS:
        if reason:
            raise LocalProtocolError("a close reason needs a close code")
        return encode_frame(Opcode.CLOSE, b"", mask=mask)
    if not is_valid_close_code(code):
        raise LocalProtocolError(f"close code {code} may not be sent")
    raw = reason.encode("utf-8", "replace")
    if len(raw) > MAX_CONTROL_PAYLOAD - 2:
        raw = raw[: MAX_CONTROL_PAYLOAD - 2].decode("utf-8", "ignore").encode("utf-8")
    return encode_frame(Opcode.CLOSE, code.to_bytes(2, "big") + raw, mask=mask)


def encode_ping(payload: Payload = b"", *, mask: bool = False) -> bytes:
    """A PING frame (payload at most 125 bytes)."""
    return encode_frame(Opcode.PING, payload, mask=mask)


def encode_pong(payload: Payload = b"", *, mask: bool = False) -> bytes:
    """A PONG frame (payload at most 125 bytes); answer a :class:`Ping` with its payload."""
    return encode_frame(Opcode.PONG, payload, mask=mask)


# -- opening handshake -----------------------------------------------------
#
# Headers are a mapping of lowercase header names to values, repeated header
# lines joined with ", " (RFC 7230 section 3.2.2); headers_from_environ builds
# one from a WSGI environ.

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
WEBSOCKET_VERSION = "13"


class HandshakeError(RemoteProtocolError):
    """An invalid upgrade request: answer ``http_status`` (400) with ``headers`` added.

    ``headers`` is ``[("Sec-WebSocket-Version", "13")]`` when the version was
    wrong (RFC 6455 section 4.4), otherwise empty.
    """

    def __init__(self, message: str, *, headers: Iterable[Tuple[str, str]] = ()) -> None:
        super().__init__(
            message,
            engine_code=EngineErrorCode.BAD_REQUEST,
            http_status=400,
            close_code=CloseCode.PROTOCOL_ERROR,
        )
        self.headers: List[Tuple[str, str]] = list(headers)


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(value: str) -> List[str]:
    return [t.strip().lower() for t in value.split(",")]


def headers_from_environ(environ: Mapping[str, object]) -> Dict[str, str]:
    """The request headers of a WSGI environ as lowercase names (``HTTP_SEC_WEBSOCKET_KEY``
    becomes ``sec-websocket-key``)."""
    headers: Dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith("HTTP_") and isinstance(value, str):
            headers[name[5:].lower().replace("_", "-")] = value
    return headers


def check_upgrade_request(method: str, headers: Mapping[str, str]) -> str:
    """Validate a WebSocket upgrade request (RFC 6455 section 4.2.1).

    Args:
        method: the request method.
        headers: lowercase header names to values.

    Returns:
        The ``Sec-WebSocket-Key`` to answer with :func:`response_headers`.

    Raises:
        HandshakeError: (http_status 400) not GET; ``Upgrade`` without the
            ``websocket`` token (``h2c`` included, E9); ``Connection``
            without the ``upgrade`` token (a list such as ``keep-alive,
            Upgrade`` is fine); ``Sec-WebSocket-Version`` not 13 (the error's
            ``headers`` then advertise 13); a key that is not 16 bytes of base64.
    """
    if method != "GET":
        raise HandshakeError("a WebSocket upgrade must be a GET request")
    if "websocket" not in _tokens(headers.get("upgrade", "")):
        raise HandshakeError("missing or invalid Upgrade header")
    if "upgrade" not in _tokens(headers.get("connection", "")):
        raise HandshakeError("missing or invalid Connection header")
    if headers.get("sec-websocket-version", "").strip() != WEBSOCKET_VERSION:
        raise HandshakeError(
            "unsupported Sec-WebSocket-Version",
            headers=[("Sec-WebSocket-Version", WEBSOCKET_VERSION)],
        )
    key = headers.get("sec-websocket-key", "").strip()
    try:
        valid = len(key) == 24 and len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, ValueError, UnicodeEncodeError):
        valid = False
    if not valid:
        raise HandshakeError("missing or invalid Sec-WebSocket-Key")
    return key


def response_headers(key: str, *, extensions: Optional[str] = None) -> List[Tuple[str, str]]:
    """Headers of the ``101 Switching Protocols`` answer (add ``extensions`` from
    :meth:`PerMessageDeflate.negotiate` when it agreed)."""
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    return headers


def client_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64 (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def check_response_accept(key: str, accept_header: Optional[str]) -> None:
    """Client side: check the server's ``Sec-WebSocket-Accept`` for the key we sent.

    Raises:
        RemoteProtocolError: the header is missing or does not match.
    """
    if accept_header is None or accept_header.strip() != accept_key(key):
        raise _fail("missing or wrong Sec-WebSocket-Accept")
