"""One Engine.IO connection as the Socket.IO layer sees it: Node's ``Client`` (``lib/client.ts``).

A :class:`Client` owns what belongs to the connection rather than to one
namespace:

- the incremental decoder, which owns binary reassembly (and every validation),
  and the ``attachment_timeout`` timer: a binary packet whose attachments stop
  arriving closes the connection;
- the namespace CONNECTs: which namespaces exist (static, dynamic parents,
  ``namespaces=``), at most ``max_namespaces`` distinct ones per connection,
  the auth size cap, and connection-state recovery (a CONNECT whose auth
  carries a ``pid`` takes over its previous session);
- the ``connect_timeout`` timer: a connection that joins no namespace in time
  is closed;
- the routing of each decoded packet to its :class:`~siothread.server.socket.Socket`.

The engine's callbacks run in the connection's reader greenlet; nothing here
runs application code: a CONNECT or an EVENT goes to the socket's inbox
(:meth:`Socket.queue_event`), an ACK resolves an entry of the socket's ack
table on the spot.
"""
from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl
from typing import TYPE_CHECKING, Any, Dict, Optional, Set, Union

from ..adapters.base import RecoveredSession
from ..errors import RemoteProtocolError
from ..protocol import socketio as sioproto
from .reasons import engine_reason_to_socketio, reason
from .recovery import start_session
from .socket import CONNECT, Socket, SocketState

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["Client"]

_CONNECTED = SocketState.CONNECTED
_CLOSED = SocketState.CLOSED
_DEFERRED: Any = object()  # restore(): wait until the previous socket of the session has closed

_P_CONNECT = sioproto.PacketType.CONNECT
_P_DISCONNECT = sioproto.PacketType.DISCONNECT
_P_EVENT = sioproto.PacketType.EVENT
_P_ACK = sioproto.PacketType.ACK
_P_CONNECT_ERROR = sioproto.PacketType.CONNECT_ERROR
_P_BINARY_EVENT = sioproto.PacketType.BINARY_EVENT
_P_BINARY_ACK = sioproto.PacketType.BINARY_ACK
_Packet = sioproto.Packet


class Client:
    """One Engine.IO session as seen by the Socket.IO layer."""

    __slots__ = (
        "server", "eio_sid", "environ", "decoder", "sockets", "seen_namespaces", "connect_timer",
        "attachment_timer", "closing", "connected_at", "partial_bytes", "legacy",
    )

    def __init__(self, server: "Server", eio_sid: str, environ: Dict[str, Any], legacy: bool = False) -> None:
        self.server = server
        self.eio_sid = eio_sid
        self.environ = environ
        self.decoder: Any = server._new_decoder()
        self.sockets: Dict[str, Socket] = {}
        # distinct namespaces this connection asked for: bounded (security row S2)
        self.seen_namespaces: Set[str] = set()
        self.connect_timer: Any = None
        self.attachment_timer: Any = None
        self.closing = False
        self.connected_at = time.time()
        #: bytes of the binary packet being assembled (its attachments so far)
        self.partial_bytes = 0
        #: a Socket.IO protocol v4 client over Engine.IO v3 (socket.io-client 2.x, ``allow_eio3``)
        self.legacy = legacy
        self.start_connect_timer()

    def connect_main_namespace(self) -> None:
        """Protocol v4 (``legacy``): the main namespace is joined with the connection, the client
        sends no CONNECT for it (Node's ``Server.onconnection``: ``client.connect("/")``)."""
        self.on_connect_packet(_Packet(_P_CONNECT, "/", None), 0)

    # ----------------------------------------------------------------- timers
    def start_connect_timer(self) -> None:
        """The connection must join a namespace within ``connect_timeout`` (Node's ``connectTimeout``)."""
        self.connect_timer = self.server.runtime.call_later(self.server.connect_timeout, self._connect_expired)

    def cancel_timers(self) -> None:
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if self.attachment_timer is not None:
            self.attachment_timer.cancel()
            self.attachment_timer = None

    def _connect_expired(self) -> None:
        self.connect_timer = None
        if self.closing or self.sockets:
            return
        server = self.server
        if server._log:
            server.logger.info("connection %s joined no namespace in time, closing", self.eio_sid)
        self.close(reason.FORCED_CLOSE, "server disconnect")

    def _attachment_expired(self) -> None:
        self.attachment_timer = None
        if self.closing or self.decoder is None or not self.decoder.awaiting_attachments:
            return
        self.protocol_error("binary attachments did not arrive in time")

    # ---------------------------------------------------------------- inbound
    def receive(self, data: Union[str, bytes]) -> None:
        """One Engine.IO message: decode it and route the packet (in the reader greenlet)."""
        server = self.server
        try:
            packet = self.decoder.feed(data)
        except RemoteProtocolError as exc:
            self.protocol_error(exc.message)
            return
        if packet is None:
            self.partial_bytes += len(data)
            if self.attachment_timer is None:
                self.attachment_timer = server.runtime.call_later(server.attachment_timeout,
                                                                  self._attachment_expired)
            return
        size = len(data)
        if self.attachment_timer is not None:  # a binary packet is complete
            self.attachment_timer.cancel()
            self.attachment_timer = None
            size += self.partial_bytes
            self.partial_bytes = 0
        if server._observers:
            server._observe("packet_in", size, packet.namespace)
        ptype = packet.type
        if ptype is _P_EVENT or ptype == _P_EVENT or ptype == _P_BINARY_EVENT:
            sock = self.sockets.get(packet.namespace)
            if sock is None:
                # not joined (or already left): never dispatched (security row S4)
                if server._log:
                    server.logger.info("event for namespace %s ignored: not connected", packet.namespace)
                return
            if server.async_handlers:
                sock.queue_event(packet, size)
            else:
                sock.handle_event(packet)
        elif ptype == _P_ACK or ptype == _P_BINARY_ACK:
            sock = self.sockets.get(packet.namespace)
            if sock is not None:
                entry = sock.acks.pop(packet.id, None)
                if entry is not None:
                    entry.resolve(packet.data)
                    if server._observers:
                        server._observe("ack_received", sock, entry.sent)
        elif ptype == _P_CONNECT:
            self.on_connect_packet(packet, len(data))
        elif ptype == _P_DISCONNECT:
            sock = self.sockets.get(packet.namespace)
            if sock is not None:
                sock.leave(reason.CLIENT_DISCONNECT, notify=False)
        else:
            self.protocol_error("a client may not send CONNECT_ERROR")

    # ---------------------------------------------------------------- connect
    def on_connect_packet(self, packet: Any, size: int) -> None:
        """A CONNECT for a namespace: refuse it, or make its socket and queue the connect procedure."""
        server = self.server
        name = packet.namespace
        auth = packet.data
        if self.legacy:
            # Protocol v4 carries no auth: the namespace's query string stands in for it
            # (``0/admin?token=abc,``), as in Node's Client._parseNamespace. The whole
            # namespace is within max_namespace_length, so the query is bounded too.
            name, _, query = name.partition("?")
            auth = dict(parse_qsl(query, keep_blank_values=True))
        if auth is None:
            auth = {}
        elif not isinstance(auth, dict):
            self.protocol_error("the CONNECT payload must be an object")
            return
        if name in self.sockets:
            if server._log:
                server.logger.info("duplicate CONNECT for %s from %s ignored", name, self.eio_sid)
            return
        if name not in self.seen_namespaces:
            if len(self.seen_namespaces) >= server.max_namespaces:
                self.protocol_error("too many namespaces on one connection")
                return
            self.seen_namespaces.add(name)
        if server._closing:
            self.send_connect_error(name, {"message": "server shutting down"})
            return
        if size > server.max_auth_size:
            self.send_connect_error(name, {"message": "Auth payload too large"})
            return
        registry = server._registry
        primary = registry.static.get(name)
        if primary is None:
            try:
                primary = registry.match_dynamic(name, auth)
            except Exception as exc:
                server.logger.error("dynamic namespace check failed for %r", name, exc_info=exc)
                primary = None
            if primary is None and not (
                name == "/" or name in server._allowed or server.namespaces == "*" or registry.catchall is not None
            ):
                # Node's answer, word for word (v5 test suite "unknown namespace")
                self.send_connect_error(name, {"message": "Invalid namespace"})
                return
        restored: Optional[RecoveredSession] = None
        if server._recovery is not None and "pid" in auth and not self.legacy:
            restored = self.restore(packet, size, name, auth)
            if restored is _DEFERRED:
                return
            # the pid is a secret: keep it out of the handlers' auth and fetch_sockets' handshake
            auth = {k: v for k, v in auth.items() if k != "pid" and k != "offset"}
            if restored is not None and restored.sid in server._sockets:
                restored = None
        if self.legacy:
            # socket.io-client 2.x names its socket so itself; Node's server does the same
            sid = self.eio_sid if name == "/" else f"{name}#{self.eio_sid}"
        else:
            sid = restored.sid if restored is not None else _new_sid(server._sockets)
        sock = Socket(sid, self, name, registry.route(name, primary), auth)
        self.sockets[name] = sock
        server._sockets[sid] = sock
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        # joined to its own room now, so the connect chain and handler can use rooms
        server.manager.connect(name, sid, self.eio_sid)
        if server._recovery is not None and not self.legacy:  # protocol v4 cannot carry a pid
            start_session(sock, restored)
        if server.async_handlers:
            sock.queue((CONNECT, None))
        else:
            sock.do_connect()

    def send_connect_error(self, name: str, payload: Dict[str, Any]) -> None:
        if self.server._observers:
            self.server._observe("connect_refused", name, payload)
        answer: Any = payload
        if self.legacy:
            # Protocol v4's ERROR packet (same type number): the error's data, else its message
            # (Node's namespace.ts: ``socket._error(err.data || err.message)``).
            data = payload.get("data")
            answer = data if isinstance(data, (str, dict)) and data else str(payload.get("message", ""))
        for message in self.server._encode(_Packet(_P_CONNECT_ERROR, name, answer)):
            self.send_raw(message)

    # --------------------------------------------------------- state recovery
    def restore(self, packet: Any, size: int, name: str, auth: Dict[str, Any]) -> Any:
        """The session a CONNECT's ``pid``/``offset`` asks for: a RecoveredSession, None or _DEFERRED.

        The pid proves the session. If its previous socket has not closed yet
        (the server has not noticed that the old connection died: ping-timeout
        race, socketio/socket.io#4880), the old connection is closed as lost
        and this CONNECT is handled again once that socket has closed
        (:meth:`resume_connect`), so the app sees ``disconnect`` before the
        recovered ``connect`` and the sid is never used twice.
        """
        server = self.server
        pid = auth.get("pid")
        if not isinstance(pid, str) or not 0 < len(pid) <= 64:
            return None
        offset = auth.get("offset")
        if not isinstance(offset, str):
            offset = None  # nothing received yet (socketio/socket.io#5538): replay from the connection
        previous = server._pids.get(pid)
        if previous is not None:
            if previous.namespace != name or previous.client is self:
                return None
            if previous.state <= _CONNECTED and not previous.client.closing:
                previous.client.close(reason.TRANSPORT_CLOSE, "transport close")
            if previous.state != _CLOSED:
                server._deferred[previous] = (self, packet, size)
                return _DEFERRED
        try:
            return server.manager.restore_session(name, pid, offset)
        except Exception as exc:
            server.logger.error("restoring a session failed (namespace %s)", name, exc_info=exc)
            return None

    def resume_connect(self, packet: Any, size: int) -> None:
        """The previous socket of this CONNECT's session closed: handle the CONNECT now."""
        if not self.closing and self.server._clients.get(self.eio_sid) is self:
            self.on_connect_packet(packet, size)

    def send_raw(self, message: Union[str, bytes]) -> None:
        """Send one encoded message to this connection, whatever the state of its sockets."""
        eio = self.server.eio
        if isinstance(message, str):
            eio.send(self.eio_sid, message)
        else:
            eio.send_prepared(self.eio_sid, eio.prepare((message,)))

    # ---------------------------------------------------------------- closing
    def engine_closed(self, engine_reason: str) -> None:
        """The Engine.IO session ended: every socket leaves (the server already forgot the client)."""
        self.closing = True
        self.cancel_timers()
        self.decoder = None  # a partial binary packet is dropped with it
        why = engine_reason_to_socketio(engine_reason)
        for sock in list(self.sockets.values()):
            sock.leave(why, notify=False)
        server = self.server
        if server._observers:
            server._observe("raw_disconnection", self.eio_sid, why)

    def close(self, why: str, engine_reason: str) -> None:
        """The Socket.IO layer closes the whole connection (protocol error, timeouts, ``close=True``)."""
        if self.closing:
            return
        server = self.server
        self.closing = True
        self.cancel_timers()
        server._clients.pop(self.eio_sid, None)
        for sock in list(self.sockets.values()):
            sock.leave(why, notify=False)
        server.eio.disconnect(self.eio_sid, engine_reason)
        if server._observers:
            server._observe("raw_disconnection", self.eio_sid, why)

    def protocol_error(self, message: str) -> None:
        server = self.server
        if server._log:
            server.logger.info("protocol error from %s, closing: %s", self.eio_sid, message)
        self.close(reason.PARSE_ERROR, "parse error")


def _new_sid(sockets: Dict[str, Socket]) -> str:
    while True:
        sid = secrets.token_urlsafe(15)
        if sid not in sockets:
            return sid
