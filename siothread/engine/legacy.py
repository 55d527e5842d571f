"""Engine.IO v3 sessions (``allow_eio3``): what differs from v4 on the wire, kept off the v4 paths.

Node's engine.io serves socket.io-client 2.x when ``allowEIO3`` is set; so does
siothread. A v3 session is an ordinary :class:`~siothread.engine.session.Session`
with ``protocol == 3``; what it queues is kept in the v4 form (``4text``,
``b<base64>`` segments) and framed for v3 only when it leaves:

- a long-polling GET answers a v3 payload (:func:`polling_body`): text framing
  with UTF-16 lengths, or binary framing when a packet is binary and the client
  did not ask for ``b64=1``; a POST is decoded as a v3 payload
  (:func:`decode_post`), binary framing accepted;
- a WebSocket carries binary MESSAGEs with their type byte in front, both ways
  (:class:`V3WebSocketConnection`, :func:`ws_message`);
- the heartbeat runs the other way round (:meth:`Session.on_ping`).
"""
from __future__ import annotations

from base64 import b64decode
from typing import TYPE_CHECKING, Any, Dict, List, Tuple, Union

from ..protocol import engineio_v3 as v3
from ..protocol import websocket as wsproto
from ..protocol.engineio import Packet, PacketType, decode_packet
from .prepared import Prepared
from .websocket import WebSocketConnection

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session

__all__ = ["V3WebSocketConnection", "adopt", "ws_message", "polling_body", "decode_post", "to_packets"]

_TYPE_BY_CHAR = {str(t.value): t for t in PacketType}


def to_packets(segments: List[str]) -> List[Packet]:
    """The packets of queued v4 payload segments (written by this engine, so well formed)."""
    packets = []
    for segment in segments:
        if segment[:1] == "b":
            packets.append(Packet(PacketType.MESSAGE, b64decode(segment[1:])))
        else:
            packets.append(Packet(_TYPE_BY_CHAR[segment[0]], segment[1:] if len(segment) > 1 else None))
    return packets


def polling_body(segments: List[str], query: Dict[str, str]) -> Tuple[bytes, str]:
    """The body and content type of a v3 GET answer carrying ``segments``."""
    payload = v3.encode_payload(to_packets(segments), supports_binary="b64" not in query)
    if isinstance(payload, bytes):
        return payload, "application/octet-stream"
    return payload.encode("utf-8"), "text/plain; charset=UTF-8"


def jsonp_payload(segments: List[str]) -> str:
    """A v3 JSONP answer's payload: always text (binary data as base64)."""
    return v3.encode_text_payload(to_packets(segments))


def decode_post(body: Union[str, bytes], content_type: str, max_packets: int) -> List[Packet]:
    """The packets of a v3 POST body; ``application/octet-stream`` is the binary framing."""
    binary = content_type.split(";")[0].strip().lower() == "application/octet-stream"
    return v3.decode_payload(body, binary=binary, max_packets=max_packets)


class V3WebSocketConnection(WebSocketConnection):
    """A WebSocket of a v3 session: a binary MESSAGE travels as ``0x04`` + data.

    The acceptor builds a :class:`WebSocketConnection`; :func:`adopt` turns it into
    this class once the request is known to be v3, so the v4 write paths carry no
    protocol test. Prepared broadcasts are framed per connection (no shared cache).
    """

    def write_prepared(self, prepared: Prepared, volatile: bool = False) -> bool:
        deflate = self._deflate if prepared.compress else None
        parts = []
        for m in prepared.messages:
            if isinstance(m, str):
                parts.append(wsproto.encode_text("4" + m, deflate=deflate))
            else:
                parts.append(wsproto.encode_binary(v3.encode_ws_binary(m), deflate=deflate))
        return self.write(b"".join(parts), volatile=volatile, packets=prepared.count)

    def write_segment(self, segment: str) -> bool:
        if segment[:1] == "b":
            return self.write(wsproto.encode_binary(v3.encode_ws_binary(b64decode(segment[1:]))))
        return self.write_text(segment)


def adopt(conn: WebSocketConnection) -> WebSocketConnection:
    """Make ``conn`` (fresh from an acceptor) frame its messages for Engine.IO v3."""
    conn.__class__ = V3WebSocketConnection
    return conn


def ws_message(session: "Session", data: Any, on_message: Any, on_packet: Any) -> None:
    """A WebSocket message of an open v3 session: a packet, or a MESSAGE for the application."""
    if type(data) is str:
        on_packet(session, decode_packet(data))  # one packet per message: v3 has no batching
    else:
        on_message(session.sid, v3.decode_ws_binary(data).data)
