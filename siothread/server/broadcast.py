"""Broadcasting: the adapter's view of the server, and the chainable operators users see.

Every broadcast goes through the adapter (``client_manager``), which resolves
the target (rooms minus excluded rooms, on every node of a cluster) and calls
back the server's :class:`~siothread.adapters.base.AdapterHost` with the local
recipients. :class:`Broadcaster` is that host: :meth:`Broadcaster.deliver`
encodes the packet once, prepares the Engine.IO frames once and hands the same
object to every recipient; one prepared object is one write, so a multi-frame
binary packet never interleaves with another sender's. It also starts the ack
collection of a broadcast with acks (:mod:`.acks`).

``sio.to('room').except_('muted').volatile.timeout(5).emit('tick', 1)`` builds
an immutable :class:`BroadcastOperator` step by step; its final call goes
through the :class:`Broadcaster`. Reference: ``socketio/socket.io:
packages/socket.io/lib/broadcast-operator.ts`` (``to``/``in``/``except``/
``compress``/``volatile``/``local``/``timeout``/``emit``/``emitWithAck``/
``fetchSockets``/``socketsJoin``/``socketsLeave``/``disconnectSockets``,
``RemoteSocket``) and ``lib/namespace.ts`` (the emit side).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Set, Union
from urllib.parse import parse_qs

from ..adapters.base import BroadcastOptions, SocketDetails, _as_frozenset
from ..protocol import socketio as sioproto
from .acks import BroadcastAckCollector, BroadcastAckResult
from .reasons import reason
from .socket import SocketState

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["Broadcaster", "BroadcastOperator", "RemoteSocket", "handshake"]

_P_EVENT = sioproto.PacketType.EVENT
_Packet = sioproto.Packet
_CONNECTING = SocketState.CONNECTING
_CONNECTED = SocketState.CONNECTED
_DISCONNECTING = SocketState.DISCONNECTING


def handshake(environ: Dict[str, Any], auth: Dict[str, Any], issued: float) -> Dict[str, Any]:
    """Node's ``socket.handshake`` built from the WSGI environ (JSON-serialisable)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    qs = environ.get("QUERY_STRING", "")
    return {
        "headers": headers,
        "query": query,
        "address": environ.get("REMOTE_ADDR", ""),
        "time": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(issued)),
        "issued": int(issued * 1000),
        "url": environ.get("PATH_INFO", "") + ("?" + qs if qs else ""),
        "secure": environ.get("wsgi.url_scheme") == "https",
        "xdomain": "HTTP_ORIGIN" in environ,
        "auth": auth,
    }


class Broadcaster:
    """The broadcasts of one server, and the local end of its adapter (:class:`AdapterHost`)."""

    __slots__ = ("server", "collectors")

    def __init__(self, server: "Server") -> None:
        self.server = server
        #: broadcasts with acks still collecting (shutdown cancels them)
        self.collectors: Set[BroadcastAckCollector] = set()

    # -- emitting ------------------------------------------------------------------
    def broadcast(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                  callback: Optional[Callable[[BroadcastAckResult], Any]] = None,
                  timeout: Optional[float] = None) -> None:
        """Emit to the target of ``opts``; with ``callback``, gather every recipient's ack."""
        if not isinstance(event, str) or event in sioproto.RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved or invalid event name")
        server = self.server
        if callback is None:
            server.manager.broadcast(namespace, _Packet(_P_EVENT, namespace, [event, *args]), opts)
            return

        def done(result: BroadcastAckResult) -> None:
            server._spawn_callback(callback, result)

        self.start_collector(namespace, event, args, opts, timeout, done)

    def call(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
             timeout: Optional[float]) -> BroadcastAckResult:
        """Broadcast with acks and wait for the per-sid result."""
        waiter = self.server.runtime.AsyncResult()
        self.start_collector(namespace, event, args, opts, timeout, waiter.set)
        return waiter.get()  # type: ignore[no-any-return]

    def start_collector(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                        timeout: Optional[float],
                        on_done: Callable[[BroadcastAckResult], None]) -> BroadcastAckCollector:
        server = self.server
        ack_id = server._next_ack_id()
        servers = 1 if opts.local else server.manager.server_count()
        collectors = self.collectors

        def finished(result: BroadcastAckResult) -> None:
            collectors.discard(collector)
            on_done(result)

        collector = BroadcastAckCollector(ack_id, servers, finished)
        collector.timeout = timeout
        collectors.add(collector)
        if timeout is not None:
            collector.timer = server.runtime.call_later(timeout, collector.expire)
        server.manager.broadcast_with_ack(namespace, _Packet(_P_EVENT, namespace, [event, *args], ack_id), opts,
                                          collector)
        return collector

    # -- what the adapter calls (AdapterHost) -----------------------------------------
    def deliver(self, packet: Any, sids: List[str], opts: BroadcastOptions) -> int:
        """Send one packet to local sockets: encode once, prepare once, one write each."""
        if not sids:
            return 0
        server = self.server
        sockets = server._sockets
        outgoing = server._outgoing
        event: Any = packet.data[0] if outgoing else None
        if len(sids) == 1:
            sock = sockets.get(sids[0])
            if sock is None or sock.state >= _DISCONNECTING:
                return 0
            if outgoing:
                server._notify_outgoing(sock.sid, sock.namespace, event, packet.data[1:])
            sock.send_packet(packet, opts.volatile, opts.compress)
            return 1
        messages = server._encode(packet)
        prepared = None
        volatile = opts.volatile
        count = 0
        eio = server.eio
        send_prepared = eio.send_prepared
        for sid in sids:
            sock = sockets.get(sid)
            if sock is None:
                continue
            state = sock.state
            if state == _CONNECTED:
                if prepared is None:
                    prepared = eio.prepare(messages, compress=opts.compress is not False)
                if outgoing:
                    server._notify_outgoing(sid, sock.namespace, event, packet.data[1:])
                send_prepared(sock.eio_sid, prepared, volatile=volatile)
                count += 1
            elif state == _CONNECTING:
                if outgoing:
                    server._notify_outgoing(sid, sock.namespace, event, packet.data[1:])
                sock.held.append((messages, volatile, opts.compress))
                count += 1
        if server._observers and count:
            server._observe("packet_out", count * sum(len(m) for m in messages), packet.namespace)
        return count

    def deliver_with_ack(self, packet: Any, sids: List[str], opts: BroadcastOptions,
                         collector: BroadcastAckCollector) -> int:
        sockets = self.server._sockets
        reached: List[str] = []
        for sid in sids:
            sock = sockets.get(sid)
            if sock is None or sock.state >= _DISCONNECTING:
                continue
            collector.register(sid, sock.acks)
            reached.append(sid)
        return self.deliver(packet, reached, opts)

    def local_disconnect(self, sid: str, close: bool) -> None:
        sock = self.server._sockets.get(sid)
        if sock is None:
            return
        if not close:
            sock.leave(reason.SERVER_DISCONNECT, notify=True)
            return
        client = sock.client
        for other in list(client.sockets.values()):
            other.leave(reason.SERVER_DISCONNECT, notify=True)
        client.close(reason.FORCED_CLOSE, "server disconnect")

    def local_details(self, sid: str) -> Optional[SocketDetails]:
        server = self.server
        sock = server._sockets.get(sid)
        if sock is None or sock.state != _CONNECTED:
            return None
        return SocketDetails(
            id=sid,
            namespace=sock.namespace,
            rooms=server.manager.get_rooms(sock.namespace, sid),
            data=sock.session,
            handshake=handshake(sock.client.environ, sock.auth, sock.client.connected_at),
        )

    def handle_server_side_emit(self, namespace: str, event: str, args: List[Any]) -> Any:
        """An event another server sent with ``server_side_emit``; returns the reply."""
        handler = self.server._server_handlers.get((namespace, event))
        if handler is None:
            return None
        return handler(*args)


class _AdapterHost:
    """The server as its adapter sees it: :class:`~siothread.adapters.base.AdapterHost`.

    Bound methods, not wrappers, so a broadcast costs no extra call.
    """

    __slots__ = ("runtime", "deliver", "deliver_with_ack", "local_details", "local_disconnect",
                 "handle_server_side_emit", "next_ack_id")

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.runtime = broadcaster.server.runtime
        self.deliver = broadcaster.deliver
        self.deliver_with_ack = broadcaster.deliver_with_ack
        self.local_details = broadcaster.local_details
        self.local_disconnect = broadcaster.local_disconnect
        self.handle_server_side_emit = broadcaster.handle_server_side_emit
        self.next_ack_id = broadcaster.server._next_ack_id

Rooms = Union[None, str, List[str], tuple, set, frozenset]


class BroadcastOperator:
    """An immutable description of "who gets it, and how"; every modifier returns a new one."""

    __slots__ = ("_server", "_namespace", "_rooms", "_except", "_volatile", "_compress", "_local", "_timeout")

    def __init__(self, server: "Server", namespace: str, rooms: Rooms = None, except_rooms: Rooms = None,
                 volatile: bool = False, compress: Optional[bool] = None, local: bool = False,
                 timeout: Optional[float] = None) -> None:
        self._server = server
        self._namespace = namespace
        self._rooms: FrozenSet[str] = _as_frozenset(rooms)
        self._except: FrozenSet[str] = _as_frozenset(except_rooms)
        self._volatile = volatile
        self._compress = compress
        self._local = local
        self._timeout = timeout

    def _copy(self, **changes: Any) -> "BroadcastOperator":
        values = dict(rooms=self._rooms, except_rooms=self._except, volatile=self._volatile,
                      compress=self._compress, local=self._local, timeout=self._timeout)
        values.update(changes)
        return BroadcastOperator(self._server, self._namespace, **values)

    def _opts(self) -> BroadcastOptions:
        return BroadcastOptions(self._rooms, self._except, self._volatile, self._compress, self._local)

    # -- modifiers ---------------------------------------------------------
    def to(self, room: Rooms) -> "BroadcastOperator":
        """Add target rooms (a client in several of them receives the event once)."""
        return self._copy(rooms=self._rooms | _as_frozenset(room))

    in_ = to

    def except_(self, room: Rooms) -> "BroadcastOperator":
        """Exclude the members of these rooms (a sid is a room)."""
        return self._copy(except_rooms=self._except | _as_frozenset(room))

    def compress(self, flag: bool) -> "BroadcastOperator":
        return self._copy(compress=bool(flag))

    @property
    def volatile(self) -> "BroadcastOperator":
        """Drop the packet for clients that cannot take it right now."""
        return self._copy(volatile=True)

    @property
    def local(self) -> "BroadcastOperator":
        """Only this node."""
        return self._copy(local=True)

    def timeout(self, seconds: float) -> "BroadcastOperator":
        """Deadline for the acks of the next ``emit(..., callback=)`` or ``call``."""
        if seconds is None or seconds < 0:
            raise ValueError("timeout must be a number >= 0")
        return self._copy(timeout=float(seconds))

    # -- actions -----------------------------------------------------------
    def emit(self, event: str, *args: Any, callback: Optional[Callable[[BroadcastAckResult], Any]] = None) -> None:
        """Emit ``event`` with ``args``; with ``callback``, gather every recipient's ack.

        ``callback(result)`` receives a :class:`BroadcastAckResult` when all
        recipients acknowledged or left, or when the timeout passed.
        """
        self._server._broadcast(self._namespace, event, list(args), self._opts(), callback, self._timeout)

    def send(self, data: Any, callback: Optional[Callable[[BroadcastAckResult], Any]] = None) -> None:
        self.emit("message", data, callback=callback)

    def call(self, event: str, *args: Any) -> BroadcastAckResult:
        """Emit and wait for every recipient's ack (``emitWithAck``); 60 s unless ``timeout()`` was set."""
        timeout = self._timeout if self._timeout is not None else 60.0
        return self._server.call_broadcast(self._namespace, event, list(args), self._opts(), timeout)

    emit_with_ack = call

    def fetch_sockets(self) -> List["RemoteSocket"]:
        details = self._server.manager.fetch_sockets(self._namespace, self._opts())
        return [RemoteSocket(self._server, d) for d in details]

    def sockets_join(self, room: Union[str, List[str]]) -> None:
        rooms = [room] if isinstance(room, str) else list(room)
        self._server.manager.add_sockets(self._namespace, self._opts(), rooms)

    def sockets_leave(self, room: Union[str, List[str]]) -> None:
        rooms = [room] if isinstance(room, str) else list(room)
        self._server.manager.del_sockets(self._namespace, self._opts(), rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._server.manager.disconnect_sockets(self._namespace, self._opts(), close)

    def __repr__(self) -> str:
        return (f"BroadcastOperator(namespace={self._namespace!r}, rooms={sorted(self._rooms)!r}, "
                f"except={sorted(self._except)!r})")


class RemoteSocket:
    """A socket returned by ``fetch_sockets``, possibly on another node.

    Attributes: ``id``, ``namespace``, ``rooms``, ``data`` (its session dict) and
    ``handshake``. Its methods act through the adapter, so they work cluster-wide.
    """

    __slots__ = ("_server", "id", "namespace", "rooms", "data", "handshake")

    def __init__(self, server: "Server", details: SocketDetails) -> None:
        self._server = server
        self.id = details.id
        self.namespace = details.namespace
        self.rooms = set(details.rooms)
        self.data: Dict[str, Any] = details.data
        self.handshake = details.handshake

    @property
    def sid(self) -> str:
        return self.id

    def _op(self) -> BroadcastOperator:
        return BroadcastOperator(self._server, self.namespace, self.id)

    def emit(self, event: str, *args: Any) -> None:
        self._op().emit(event, *args)

    def join(self, room: Union[str, List[str]]) -> None:
        self._op().sockets_join(room)

    def leave(self, room: Union[str, List[str]]) -> None:
        self._op().sockets_leave(room)

    def disconnect(self, close: bool = False) -> None:
        self._op().disconnect_sockets(close)

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r})"
