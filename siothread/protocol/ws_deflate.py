"""permessage-deflate for WebSocket (RFC 7692), pure: no I/O.

Theory of operation: a :class:`PerMessageDeflate` built with the local
preferences is a *template*. A server calls :meth:`PerMessageDeflate.negotiate`
with the client's ``Sec-WebSocket-Extensions`` offer; a client sends
:meth:`PerMessageDeflate.offer` and passes the server's answer to
:meth:`PerMessageDeflate.accept_response`. Both return a new, *agreed* instance
that belongs to one connection: its :meth:`compress` is used by the frame
encoders, its :meth:`decompress` by :class:`~siothread.protocol.websocket.FrameParser`.

Inflating is always bounded: :meth:`decompress` asks zlib for at most
``max_size + 1`` bytes, so a small message that inflates to gigabytes (a
"deflate bomb") costs ``max_size`` bytes of work before it is rejected with
close code 1009 (advisory row E8; ``ws`` ``permessage-deflate.js``
``inflateOnData`` does the same check per chunk).

With context takeover, the compressed bytes of a message depend on every
message compressed before it, so frames must reach the wire in the order
:meth:`compress` produced them.
"""
from __future__ import annotations

import re
import zlib
from typing import Dict, List, Optional, Tuple, Union

from ..errors import CloseCode, LocalProtocolError, RemoteProtocolError, peer_error

__all__ = ["PerMessageDeflate", "EXTENSION_NAME", "parse_extension_header"]

EXTENSION_NAME = "permessage-deflate"

# RFC 7692 section 7.2.1: the sender removes these four octets (the end of the
# empty stored block a sync flush emits); the receiver appends them back.
_TAIL = b"\x00\x00\xff\xff"

_MIN_BITS, _MAX_BITS = 8, 15
# zlib refuses to *compress* raw deflate with a 256-byte window (wbits 8), and
# Node's zlib silently uses 9 when asked for 8. So an agreed window of 8 means
# "we send uncompressed messages" and our inflater uses at least 9 bits, which
# reads every stream a window of 8 can produce.
_MIN_ZLIB_BITS = 9

# RFC 7230 token; a quoted value must still be a token once unescaped (RFC 6455 section 9.1).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 7692 section 7.1.2.1: "a decimal integer value without leading zeroes between 8 and 15".
_WINDOW_BITS = re.compile(r"(?:[89]|1[0-5])\Z")
_QUOTED_PAIR = re.compile(r"\\(.)")

_SERVER_NCT = "server_no_context_takeover"
_CLIENT_NCT = "client_no_context_takeover"
_SERVER_MWB = "server_max_window_bits"
_CLIENT_MWB = "client_max_window_bits"
_KNOWN_PARAMS = frozenset((_SERVER_NCT, _CLIENT_NCT, _SERVER_MWB, _CLIENT_MWB))

Params = List[Tuple[str, Optional[str]]]


def _bad(message: str, code: int = CloseCode.PROTOCOL_ERROR) -> RemoteProtocolError:
    return peer_error(message, code)


def _parse_element(element: str) -> Optional[Tuple[str, Params]]:
    parts = element.split(";")
    name = parts[0].strip()
    if not _TOKEN.match(name):
        return None
    params: Params = []
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        key = key.strip()
        if not _TOKEN.match(key):
            return None
        if not eq:
            params.append((key.lower(), None))
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        if not _TOKEN.match(value):
            return None
        params.append((key.lower(), value))
    return name.lower(), params


def parse_extension_header(value: str) -> List[Optional[Tuple[str, Params]]]:
    """Split a ``Sec-WebSocket-Extensions`` value into ``(name, [(param, value)])`` elements.

    Names and parameter names are lowercased; a parameter without ``=`` has
    the value ``None``; quoted values are unescaped. An element that is not
    well formed is ``None`` in the list, so one bad element does not hide the
    others. Splitting on ``,`` and ``;`` is exact because RFC 6455 section 9.1
    requires every value, quoted or not, to be a token. Linear in the input.
    """
    return [_parse_element(e) for e in value.split(",") if e.strip()]


def _params_dict(params: Params) -> Optional[Dict[str, Optional[str]]]:
    """Validate the parameters of one permessage-deflate element (RFC 7692 section 7.1)."""
    seen: Dict[str, Optional[str]] = {}
    for key, value in params:
        # "a duplicated parameter" or "an unknown parameter" makes the element invalid.
        if key in seen or key not in _KNOWN_PARAMS:
            return None
        if key in (_SERVER_NCT, _CLIENT_NCT):
            if value is not None:
                return None
        elif key == _SERVER_MWB:
            if value is None or not _WINDOW_BITS.match(value):
                return None
        elif value is not None and not _WINDOW_BITS.match(value):
            return None
        seen[key] = value
    return seen


def _check_bits(name: str, value: int) -> int:
    if not isinstance(value, int) or not _MIN_BITS <= value <= _MAX_BITS:
        raise ValueError(f"{name} must be an int from 8 to 15")
    return value


class PerMessageDeflate:
    """permessage-deflate preferences (a template) or one connection's agreed state.

    Args:
        server_no_context_takeover: the server resets its compressor after
            every message. On a server this costs ratio but no per-connection
            compressor memory between messages (zlib keeps ~256 KiB per
            compressor at the default ``mem_level``).
        client_no_context_takeover: the client does the same (the server can
            then drop its inflater between messages).
        server_max_window_bits: largest LZ77 window (log2) the server compresses with.
        client_max_window_bits: largest window the client compresses with.
            On a server, a value below 15 declines offers that do not let
            the server limit the client window (like ``ws``).
        level: zlib compression level (-1 is zlib's default, 6).
        mem_level: zlib ``memLevel`` 1..9 (memory for compression state).
        threshold: :meth:`wants_compression` is false below this many payload
            bytes; 1024 is engine.io's ``perMessageDeflate.threshold`` default.

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        client_max_window_bits: int = 15,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
        threshold: int = 1024,
    ) -> None:
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = _check_bits("server_max_window_bits", server_max_window_bits)
        self.client_max_window_bits = _check_bits("client_max_window_bits", client_max_window_bits)
        if not isinstance(level, int) or not -1 <= level <= 9:
            raise ValueError("level must be an int from -1 to 9")
        if not isinstance(mem_level, int) or not 1 <= mem_level <= 9:
            raise ValueError("mem_level must be an int from 1 to 9")
        if not isinstance(threshold, int) or threshold < 0:
            raise ValueError("threshold must be a non-negative int")
        self.level = level
        self.mem_level = mem_level
        self.threshold = threshold
        # Agreed state; ``_is_server`` stays None on a template.
        self._is_server: Optional[bool] = None
        self._out_bits = 15
        self._in_bits = 15
        self._out_reset = False
        self._in_reset = False
        self._compressor: Optional["zlib._Compress"] = None
        self._decompressor: Optional["zlib._Decompress"] = None

    # -- negotiation ------------------------------------------------------

    @property
    def is_server(self) -> Optional[bool]:
        """True/False on an agreed instance (its role), None on a template."""
        return self._is_server

    @property
    def agreed(self) -> str:
        """The agreed parameters, for logs (``""`` on a template)."""
        if self._is_server is None:
            return ""
        return (
            f"out_window_bits={self._out_bits} in_window_bits={self._in_bits} "
            f"out_no_context_takeover={self._out_reset} in_no_context_takeover={self._in_reset}"
        )

    def _agree(self, *, is_server: bool, out_bits: int, in_bits: int, out_reset: bool,
               in_reset: bool) -> "PerMessageDeflate":
        agreed = PerMessageDeflate(
            server_no_context_takeover=self.server_no_context_takeover,
            client_no_context_takeover=self.client_no_context_takeover,
            server_max_window_bits=self.server_max_window_bits,
            client_max_window_bits=self.client_max_window_bits,
            level=self.level,
            mem_level=self.mem_level,
            threshold=self.threshold,
        )
        agreed._is_server = is_server
        agreed._out_bits = out_bits
        agreed._in_bits = max(in_bits, _MIN_ZLIB_BITS)
        agreed._out_reset = out_reset
        agreed._in_reset = in_reset
        return agreed

    def negotiate(self, offer_header_value: str) -> Optional[Tuple[str, "PerMessageDeflate"]]:
        """Server side: accept the first acceptable permessage-deflate offer (RFC 7692 section 7.1).

        Args:
            offer_header_value: the request's ``Sec-WebSocket-Extensions``
                value (several header lines joined with ``,``).

        Returns:
            ``(response_header_value, agreed)`` for the 101 response and the
            connection, or None when no offer is acceptable (then answer
            without the extension; a malformed offer is declined, not an error).
        """
        for element in parse_extension_header(offer_header_value):
            if element is None or element[0] != EXTENSION_NAME:
                continue
            params = _params_dict(element[1])
            if params is None:
                continue
            accepted = self._accept_offer(params)
            if accepted is not None:
                return accepted
        return None

    def _accept_offer(
        self, params: Dict[str, Optional[str]]
    ) -> Optional[Tuple[str, "PerMessageDeflate"]]:
        response = [EXTENSION_NAME]
        # 7.1.1.1: accepting server_no_context_takeover means echoing it; we always can.
        out_reset = self.server_no_context_takeover or _SERVER_NCT in params
        if out_reset:
            response.append(_SERVER_NCT)
        # 7.1.1.2: the server MAY include client_no_context_takeover; echoing the
        # client's hint lets us drop the inflater between messages.
        in_reset = self.client_no_context_takeover or _CLIENT_NCT in params
        if in_reset:
            response.append(_CLIENT_NCT)
        # 7.1.2.1: answer an offered server_max_window_bits with the same or a smaller value.
        out_bits = self.server_max_window_bits
        offered_server_bits = params.get(_SERVER_MWB)
        if offered_server_bits is not None:
            out_bits = min(out_bits, int(offered_server_bits))
        if offered_server_bits is not None or out_bits < _MAX_BITS:
            response.append(f"{_SERVER_MWB}={out_bits}")
        # 7.1.2.2: client_max_window_bits may appear in the response only if offered.
        in_bits = _MAX_BITS
        if _CLIENT_MWB in params:
            offered_client_bits = params[_CLIENT_MWB]
            limit = int(offered_client_bits) if offered_client_bits is not None else _MAX_BITS
            in_bits = min(self.client_max_window_bits, limit)
            if in_bits < _MAX_BITS:
                response.append(f"{_CLIENT_MWB}={in_bits}")
        elif self.client_max_window_bits < _MAX_BITS:
            return None
        agreed = self._agree(
            is_server=True, out_bits=out_bits, in_bits=in_bits, out_reset=out_reset, in_reset=in_reset
        )
        return "; ".join(response), agreed

    def offer(self) -> str:
        """Client side: the ``Sec-WebSocket-Extensions`` value to send (one offer)."""
        parts = [EXTENSION_NAME]
        if self.client_max_window_bits < _MAX_BITS:
            parts.append(f"{_CLIENT_MWB}={self.client_max_window_bits}")
        else:
            parts.append(_CLIENT_MWB)
        if self.server_max_window_bits < _MAX_BITS:
            parts.append(f"{_SERVER_MWB}={self.server_max_window_bits}")
        if self.server_no_context_takeover:
            parts.append(_SERVER_NCT)
        if self.client_no_context_takeover:
            parts.append(_CLIENT_NCT)
        return "; ".join(parts)

    def accept_response(self, header_value: str) -> "PerMessageDeflate":
        """Client side: check the server's answer to :meth:`offer` and agree on it.

        Call only when the 101 response carries ``Sec-WebSocket-Extensions``.

        Raises:
            RemoteProtocolError: the answer is malformed, names another or
                several extensions, or contradicts the offer (RFC 7692
                section 7.1: the client must then fail the connection).
        """
        elements = parse_extension_header(header_value)
        if len(elements) != 1 or elements[0] is None or elements[0][0] != EXTENSION_NAME:
            raise _bad("server answered with an extension that was not offered")
        params = _params_dict(elements[0][1])
        if params is None:
            raise _bad("invalid permessage-deflate parameters in the response")
        if self.server_no_context_takeover and _SERVER_NCT not in params:
            raise _bad("server ignored server_no_context_takeover")
        server_bits = params.get(_SERVER_MWB)
        in_bits = int(server_bits) if server_bits is not None else _MAX_BITS
        if in_bits > self.server_max_window_bits:
            raise _bad("server_max_window_bits larger than requested")
        out_bits = self.client_max_window_bits
        if _CLIENT_MWB in params:
            client_bits = params[_CLIENT_MWB]
            if client_bits is None or int(client_bits) > self.client_max_window_bits:
                raise _bad("invalid client_max_window_bits in the response")
            out_bits = int(client_bits)
        return self._agree(
            is_server=False,
            out_bits=out_bits,
            in_bits=in_bits,
            out_reset=self.client_no_context_takeover or _CLIENT_NCT in params,
            in_reset=_SERVER_NCT in params,
        )

    # -- compression ------------------------------------------------------

    def _require_agreed(self) -> None:
        if self._is_server is None:
            raise LocalProtocolError("permessage-deflate used before it was negotiated")

    @property
    def can_compress(self) -> bool:
        """False when the peer limited our window to 8 bits (zlib cannot): send uncompressed."""
        return self._out_bits >= _MIN_ZLIB_BITS

    def wants_compression(self, size: int) -> bool:
        """Whether an outgoing message of ``size`` payload bytes should be compressed."""
        return size >= self.threshold and self._out_bits >= _MIN_ZLIB_BITS

    def compress(self, payload: bytes) -> bytes:
        """Compress one whole message for a frame with RSV1 set (tail removed, RFC 7692 7.2.1).

        Raises:
            LocalProtocolError: not negotiated, or :attr:`can_compress` is False.
        """
        self._require_agreed()
        if self._out_bits < _MIN_ZLIB_BITS:
            raise LocalProtocolError("the agreed window (8 bits) cannot be produced by zlib")
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, -self._out_bits, self.mem_level)
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # Without context takeover the compressor is dropped, not kept for reuse:
        # ~70 us to build one per message is cheaper than ~256 KiB held per idle connection.
        self._compressor = None if self._out_reset else compressor
        return data[:-4] if data.endswith(_TAIL) else data

    def decompress(self, payload: Union[bytes, bytearray], max_size: int) -> bytes:
        """Inflate one whole message (RFC 7692 7.2.2), producing at most ``max_size`` bytes.

        Args:
            payload: the message's payload data, all frames concatenated.
            max_size: the largest acceptable inflated size.

        Raises:
            RemoteProtocolError: close code 1009 when the message inflates to
                more than ``max_size`` bytes (detected after at most
                ``max_size + 1`` bytes of output); 1007 when the data is not
                valid deflate. The inflater is unusable afterwards (so is the
                connection).
        """
        self._require_agreed()
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = zlib.decompressobj(-self._in_bits)
        try:
            # max_length=0 would mean "unbounded" to zlib: max_size + 1 >= 1 always.
            data = decompressor.decompress(payload, max_size + 1)
            if len(data) > max_size:
                raise _bad("inflated message too big", CloseCode.MESSAGE_TOO_BIG)
            if decompressor.eof:
                # The peer ended the deflate stream (BFINAL): nothing may follow it,
                # and the next message starts a new stream.
                if decompressor.unused_data:
                    raise _bad("data after the end of the deflate stream", CloseCode.INVALID_DATA)
                self._decompressor = None
                return data
            rest = decompressor.decompress(_TAIL, max_size + 1 - len(data))
        except zlib.error:
            raise _bad("invalid deflate data", CloseCode.INVALID_DATA) from None
        if rest:
            data += rest
            if len(data) > max_size:
                raise _bad("inflated message too big", CloseCode.MESSAGE_TOO_BIG)
        self._decompressor = None if self._in_reset else decompressor
        return data

    def __repr__(self) -> str:
        if self._is_server is None:
            return f"<PerMessageDeflate template {self.offer()!r}>"
        role = "server" if self._is_server else "client"
        return f"<PerMessageDeflate {role} {self.agreed}>"

