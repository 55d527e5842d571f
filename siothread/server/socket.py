"""One client's connection to one namespace: Node's ``Socket`` (``lib/socket.ts``).

A :class:`Socket` has its own sid, session dict, ack table and ordered inbox.
Its life is an explicit state machine::

    CONNECTING --accepted--> CONNECTED --leave--> DISCONNECTING --handler done--> CLOSED
        \\--refused / client gone before acceptance-----------------------------> CLOSED

While CONNECTING, packets addressed to the socket are held back and sent right
after the CONNECT acknowledgement (Node's order: the client sees CONNECT first
even for emits made inside the connect handler). While DISCONNECTING nothing is
sent and rooms can no longer be entered, but the disconnect handler can still
read the socket's rooms and session.

Handlers never run in the connection's reader greenlet: CONNECT, EVENT and the
socket's disconnect go to the socket's *inbox*, drained in order by a worker
greenlet that exists only while there is work (``async_handlers=True``; with
False handlers run inline in the reader). So a handler can block, even in
``call()``, while the reader keeps reading acks; and events of one socket run
in arrival order. The inbox is bounded (``max_queued_events`` /
``max_queued_bytes``): past that the reader waits (:meth:`Socket.hold_reader`)
and the client's TCP window holds the rest.

A socket reads what is server-wide (options, hooks, the adapter, the engine,
the encoder) from its :class:`~siothread.server.Server`; the underscore
attributes it uses there are internal to this package, not API.
"""
from __future__ import annotations

import enum
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from ..adapters.base import BroadcastOptions
from ..errors import ConnectionRefusedError, DisconnectedError, TimeoutError
from ..protocol import socketio as sioproto
from .acks import CallbackEntry, CallWaiter, ack_value
from .middleware import HandlerInfo, run_hooked
from .reasons import reason
from .recovery import end_session, resume_deferred

if TYPE_CHECKING:  # pragma: no cover
    from ._registry import Route
    from .acks import AckEntry
    from .client import Client
    from .server import Server

__all__ = ["SocketState", "Socket", "args_of"]

Message = Union[str, bytes]

_P_CONNECT = sioproto.PacketType.CONNECT
_P_DISCONNECT = sioproto.PacketType.DISCONNECT
_P_EVENT = sioproto.PacketType.EVENT
_Packet = sioproto.Packet


def args_of(data: Any) -> List[Any]:
    """python-socketio's data convention: None = no argument, tuple = several."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


class SocketState(enum.IntEnum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTING = 2
    CLOSED = 3


_CONNECTING = SocketState.CONNECTING
_CONNECTED = SocketState.CONNECTED
_DISCONNECTING = SocketState.DISCONNECTING
_CLOSED = SocketState.CLOSED

# inbox items: an EVENT packet itself, or one of these control items as (kind, payload)
CONNECT = 1
DISCONNECT = 2
#: an inbox item ``(BIG_EVENT, packet, size)``: an event whose bytes are counted against
#: ``max_queued_bytes`` (smaller events are queued as the bare packet and only counted)
BIG_EVENT = 3

#: seconds a socket's worker waits for the next event before it ends (a busy socket keeps its worker)
_WORKER_LINGER = 1.0
#: events a worker handles before it lets the event loop run (other connections, timers)
_WORKER_TURN = 64
#: events at least this large (bytes) are counted against ``max_queued_bytes``; smaller
#: ones only against ``max_queued_events`` (which bounds their bytes at this size each)
_BIG_EVENT_BYTES = 4096


class Socket:
    """One client's connection to one namespace."""

    __slots__ = (
        "sid", "eio_sid", "namespace", "client", "server", "state", "session", "acks", "inbox", "worker",
        "route", "auth", "held", "connected_at", "close_reason", "handler_accepted", "parked",
        "pid", "recovered", "queued_bytes", "reader_parked",
    )

    def __init__(self, sid: str, client: "Client", namespace: str, route: "Route", auth: Dict[str, Any]) -> None:
        self.sid = sid
        self.eio_sid = client.eio_sid
        self.namespace = namespace
        self.client = client
        self.server: "Server" = client.server
        self.state = SocketState.CONNECTING
        self.session: Dict[str, Any] = {}
        self.acks: Dict[int, "AckEntry"] = {}
        # made on the first item (an empty deque costs 600 bytes; most sockets sit idle)
        self.inbox: Union[Tuple[()], Deque[Any]] = ()
        self.worker: Any = None
        self.route = route
        self.auth = auth
        # packets emitted while CONNECTING, sent after the CONNECT ack
        self.held: List[Tuple[List[Message], bool, Optional[bool]]] = []
        self.connected_at = 0.0
        self.close_reason: Optional[str] = None
        self.handler_accepted = False
        #: the Parking of the worker while it lingers for the next inbox item
        self.parked: Any = None
        #: connection-state recovery: the private session id (None while recovery is off)
        self.pid: Optional[str] = None
        #: whether this socket took over a previous session (same sid, rooms, data, missed packets)
        self.recovered = False
        #: bytes of the BIG_EVENT items in the inbox
        self.queued_bytes = 0
        #: the Parking of the transport's reader while it waits for the inbox to drain
        self.reader_parked: Any = None

    def __repr__(self) -> str:
        return f"<Socket {self.sid} {self.namespace} {self.state.name}>"

    # ------------------------------------------------------------ inbox, worker
    def queue_event(self, packet: Any, size: int) -> None:
        """An EVENT from the client, for the worker; holds the reader when the inbox is full.

        :meth:`queue` for events, inlined: the event itself is the inbox item (control items
        are tuples); test_sio_fast_paths.py::test_events_and_control_items_keep_their_order
        keeps the two in one order.
        """
        inbox = self.inbox
        if type(inbox) is not deque:
            inbox = self.inbox = deque()
        if size < _BIG_EVENT_BYTES:
            inbox.append(packet)
        else:
            inbox.append((BIG_EVENT, packet, size))
            self.queued_bytes += size
        if self.worker is None:
            self.start_worker()
        else:
            parked = self.parked
            if parked is not None:
                self.parked = None
                parked.wake()
        server = self.server
        if len(inbox) > server.max_queued_events or self.queued_bytes > server.max_queued_bytes:
            self.hold_reader()

    def queue(self, item: Tuple[int, Any]) -> None:
        """Hand a control item, ``(CONNECT, None)`` or ``(DISCONNECT, reason)``, to the worker."""
        inbox = self.inbox
        if type(inbox) is not deque:
            inbox = self.inbox = deque()
        inbox.append(item)
        if self.worker is None:
            self.start_worker()
        else:
            self.wake_worker()

    def start_worker(self) -> None:
        server = self.server
        worker = server.runtime.spawn(self.work)
        self.worker = worker
        server._workers.add(worker)

    def work(self) -> None:
        """Drain the inbox in order; then linger a while for the next item before ending.

        A busy connection keeps one worker, woken per event (a loop callback and a
        switch), instead of a new greenlet per event; an idle one keeps none.
        """
        server = self.server
        inbox = self.inbox
        linger = _WORKER_LINGER
        parking = server.runtime.Parking()  # one per worker: a Parking can be waited on again once woken
        turn = _WORKER_TURN
        try:
            while True:
                while inbox:
                    item = inbox.popleft()
                    if type(item) is not tuple:
                        if not server._draining:
                            self.handle_event(item)
                    elif item[0] == BIG_EVENT:
                        self.queued_bytes -= item[2]
                        if not server._draining:
                            self.handle_event(item[1])
                    elif item[0] == CONNECT:
                        self.do_connect()
                    else:
                        self.do_disconnect(item[1])
                    if self.reader_parked is not None:
                        self.release_reader(False)
                    turn -= 1
                    if not turn:
                        # A long inbox is worked through in turns: other connections, their
                        # handlers and the heartbeat timers get the loop in between.
                        turn = _WORKER_TURN
                        server.runtime.sleep(0)
                if server._draining or self.state == _CLOSED:
                    break
                self.parked = parking
                if not parking.wait(linger) and not inbox:
                    break
        finally:
            self.parked = None
            if not inbox:
                self.inbox = ()
            server._workers.discard(self.worker)
            self.worker = None
            if self.reader_parked is not None:
                self.release_reader(True)

    def hold_reader(self) -> None:
        """Stop reading from this client until the socket's worker has caught up.

        Runs in the greenlet that delivered the event (the WebSocket reader, or a
        polling POST): while it waits, nothing more is read from the client, so
        TCP flow control holds what the client still sends (``max_queued_events``).
        Acks and PONGs behind that data wait too: the client is counted alive
        meanwhile, and an ack a handler waits for may arrive late (``call()``
        timeouts still apply).
        """
        server = self.server
        rt = server.runtime
        if rt.getcurrent() is self.worker:
            return
        parking = self.reader_parked = rt.Parking()
        eio = server.eio
        eio_sid = self.eio_sid
        step = max(0.05, min(1.0, eio.config.ping_timeout / 2))
        try:
            while self.reader_parked is parking and self.state != _CLOSED and not self.client.closing:
                eio.heard_from(eio_sid)
                parking.wait(step)
        finally:
            if self.reader_parked is parking:
                self.reader_parked = None

    def release_reader(self, always: bool) -> None:
        """Let a held reader go on once the inbox is down to half of both bounds."""
        server = self.server
        if always or (len(self.inbox) <= server.max_queued_events // 2
                      and self.queued_bytes <= server.max_queued_bytes // 2):
            parked = self.reader_parked
            self.reader_parked = None
            parked.wake()

    def wake_worker(self) -> None:
        """Wake the worker if it lingers for the next item (also at shutdown: it ends once its inbox is empty)."""
        parked = self.parked
        if parked is not None:
            self.parked = None
            parked.wake()

    # ---------------------------------------------------------------- handlers
    def run_handler(self, event: str, fn: Callable[..., Any], args: tuple) -> Any:
        """Run one handler with the server's around/after hooks; exceptions propagate."""
        server = self.server
        if not server._hooked:
            return fn(*args)
        info = HandlerInfo(self.sid, self.namespace, event, args)
        return run_hooked(server._around, server._after, server.logger, info, fn, args)

    def handler_error(self, event: str, exc: BaseException) -> None:
        self.server.logger.error("error in handler for %r (sid %s, namespace %s)", event, self.sid, self.namespace,
                                 exc_info=exc)

    def handle_event(self, packet: Any) -> None:
        """Dispatch one EVENT: event middleware, the handler, and its ack when the client asked."""
        server = self.server
        data = packet.data
        event = data[0]
        route = self.route
        if route.gen != server._registry.gen:
            route = self.route = server._registry.refresh(route)
        direct = route.direct
        fn = direct.get(event) if direct is not None else None
        if fn is not None and not route.event_mw and not server._observers and not server._hooked:
            # The general path below for the common case (a handler of a static namespace; no middleware,
            # hooks or observers); test_sio_fast_paths.py::test_fast_and_general_paths_send_the_same_messages
            # keeps them equal
            try:
                result = fn(self.sid, *data[1:])
            except Exception as exc:
                self.handler_error(event, exc)
                return
        else:
            args = data[1:]
            if server._observers:
                server._observe("event_received", self, event, args)
            if route.event_mw:
                for mw in route.event_mw:
                    try:
                        changed = mw(self.sid, event, args)
                    except Exception as exc:
                        self.handler_error(event, exc)
                        return
                    if changed is False:
                        return
                    if changed is not None:
                        args = list(changed)
            call = route.event_call(event, self.sid, args)
            if call is None:
                if server._log:
                    server.logger.info("no handler for event %r in namespace %s", event, self.namespace)
                return
            try:
                result = self.run_handler(event, call[0], call[1])
            except Exception as exc:
                self.handler_error(event, exc)
                return
        ack_id = packet.id
        if ack_id is not None:
            if result is None:
                ack: List[Any] = []
            elif isinstance(result, tuple):
                ack = list(result)
            else:
                ack = [result]
            self.write(server._encode_ack(self.namespace, ack, ack_id), False, None)

    # ----------------------------------------------------------------- connect
    def do_connect(self) -> None:
        """The connect procedure: middleware, the connect handler, then accept or refuse."""
        if self.state != _CONNECTING:
            self.finalize()
            return
        server = self.server
        environ = self.client.environ
        route = self.route
        sid = self.sid
        middlewares = route.connect_mw
        recovery = server._recovery
        if self.recovered and recovery is not None and recovery.skip_middlewares:
            middlewares = []  # Node's skipMiddlewares: the connect handler still runs
        try:
            for mw in middlewares:
                if mw(sid, environ, self.auth) is False:
                    raise ConnectionRefusedError()
                if self.state != _CONNECTING:
                    self.finalize()
                    return
            if server.always_connect:
                self.accept()
            call = route.connect_call(sid, environ, self.auth)
            if call is not None:
                fn, args = call
                if self.run_handler("connect", fn, args) is False:
                    raise ConnectionRefusedError()
        except ConnectionRefusedError as exc:
            self.refuse(exc.error_args())
            return
        except Exception as exc:
            self.handler_error("connect", exc)
            self.refuse({"message": "Connection rejected by server"})
            return
        self.handler_accepted = True
        if server.always_connect:
            # already acked: a leave during the handler queued a DISCONNECT item
            return
        if self.state != _CONNECTING:
            # The client left while the connect handler ran; it accepted, so pair it with disconnect.
            self.run_disconnect_handler(self.close_reason or reason.TRANSPORT_CLOSE)
            self.finalize()
            return
        self.accept()

    def accept(self) -> None:
        """Send the CONNECT acknowledgement, then what was emitted meanwhile."""
        server = self.server
        self.state = _CONNECTED
        self.connected_at = time.time()
        answer: Any = {"sid": self.sid} if self.pid is None else {"sid": self.sid, "pid": self.pid}
        if self.client.legacy:
            answer = None  # protocol v4: a bare CONNECT (``0``, ``0/nsp,``)
        for message in server._encode(_Packet(_P_CONNECT, self.namespace, answer)):
            self.client.send_raw(message)
        held = self.held
        if held:
            self.held = []
            for messages, volatile, compress in held:
                self.write(messages, volatile, compress)
        if server._observers:
            server._observe("socket_connected", self)

    def refuse(self, payload: Dict[str, Any]) -> None:
        client = self.client
        was_connected = self.state == _CONNECTED  # always_connect: already acked
        if self.state in (_CONNECTING, _CONNECTED) and not client.closing:
            if was_connected:
                self.send_packet_now(_Packet(_P_DISCONNECT, self.namespace))
            else:
                client.send_connect_error(self.namespace, payload)
        self.held = []
        self.detach(reason.SERVER_DISCONNECT)
        self.finalize()

    # -------------------------------------------------------------- disconnect
    def leave(self, why: str, *, notify: bool) -> None:
        """The socket leaves its namespace; its disconnect handler runs on its worker."""
        state = self.state
        if state >= _DISCONNECTING:
            return
        if notify and state == _CONNECTED:
            self.send_packet_now(_Packet(_P_DISCONNECT, self.namespace))
        self.detach(why)
        if state == _CONNECTED:
            if self.server.async_handlers:
                self.queue((DISCONNECT, why))
            else:
                self.do_disconnect(why)
        # CONNECTING: the connect procedure notices the state and cleans up

    def detach(self, why: str) -> None:
        """Stop all traffic to the socket and fail what waits for it; rooms stay readable."""
        self.state = _DISCONNECTING
        self.close_reason = why
        client = self.client
        if client.sockets.get(self.namespace) is self:
            del client.sockets[self.namespace]
            if not client.sockets and not client.closing and client.connect_timer is None:
                # an idle Engine.IO session must join a namespace again in time
                client.start_connect_timer()
        self.fail_acks()

    def fail_acks(self) -> None:
        acks = self.acks
        if acks:
            entries = list(acks.values())
            acks.clear()
            error = DisconnectedError("the client disconnected before acknowledging")
            for entry in entries:
                entry.fail(error)

    def do_disconnect(self, why: str) -> None:
        if self.state == _CLOSED:
            return
        self.run_disconnect_handler(why)
        self.finalize()

    def run_disconnect_handler(self, why: str) -> None:
        server = self.server
        route = self.route
        if route.gen != server._registry.gen:
            route = self.route = server._registry.refresh(route)
        call = route.disconnect_call(self.sid, why)
        if call is not None:
            try:
                self.run_handler("disconnect", call[0], call[1])
            except Exception as exc:
                self.handler_error("disconnect", exc)

    def finalize(self) -> None:
        """The socket is closed: out of its rooms and of the server's tables, its session kept if lost."""
        if self.state == _CLOSED:
            return
        server = self.server
        was_accepted = self.handler_accepted or self.connected_at > 0
        self.state = _CLOSED
        self.held = []
        self.fail_acks()
        client = self.client
        if client.sockets.get(self.namespace) is self:
            del client.sockets[self.namespace]
        recovery = server._recovery
        if recovery is not None:
            end_session(self)
        server.manager.disconnect(self.namespace, self.sid)
        server._sockets.pop(self.sid, None)
        if server._observers and was_accepted and self.connected_at > 0:
            server._observe("socket_disconnected", self, self.close_reason or reason.SERVER_DISCONNECT)
        if recovery is not None and server._deferred:
            resume_deferred(self)

    # ----------------------------------------------------------------- sending
    def send_packet(self, packet: Any, volatile: bool = False, compress: Optional[bool] = None) -> None:
        self.write(self.server._encode(packet), volatile, compress)

    def send_packet_now(self, packet: Any) -> None:
        """Send regardless of the socket's state (DISCONNECT packets)."""
        messages = self.server._encode(packet)
        if len(messages) == 1:
            self.client.send_raw(messages[0])
        else:
            eio = self.server.eio
            eio.send_prepared(self.eio_sid, eio.prepare(messages))

    def write(self, messages: List[Any], volatile: bool, compress: Optional[bool]) -> None:
        """Hand encoded messages to the engine (CONNECTED), or hold them for after the ack (CONNECTING)."""
        state = self.state
        if state is _CONNECTED:
            server = self.server
            if server._observers:
                server._observe("packet_out", sum(len(m) for m in messages), self.namespace)
            if len(messages) == 1 and not volatile and compress is None and type(messages[0]) is str:
                server.eio.send(self.eio_sid, messages[0])
            else:
                eio = server.eio
                prepared = eio.prepare(messages, compress=compress is not False)
                eio.send_prepared(self.eio_sid, prepared, volatile=volatile)
        elif state == _CONNECTING:
            self.held.append((messages, volatile, compress))

    def emit(self, event: str, data: Any, callback: Optional[Callable[..., Any]] = None,
             timeout: Optional[float] = None, volatile: bool = False, compress: Optional[bool] = None) -> None:
        """Emit to this socket (``sio.emit(..., to=sid)``); ``data`` follows python-socketio's convention.

        :meth:`Server.emit` inlines the common case (no callback, recovery or outgoing hooks).
        """
        server = self.server
        args = args_of(data)
        if server._recovery is not None and callback is None and not volatile:
            # through the adapter, like Node's socket.emit with recovery on: stored with an offset,
            # also while the socket is leaving (it may come back for it)
            ns = self.namespace
            server.manager.broadcast(ns, _Packet(_P_EVENT, ns, [event, *args]),
                                     BroadcastOptions(frozenset((self.sid,)), compress=compress))
            return
        if self.state >= _DISCONNECTING:
            if callback is not None and timeout is not None:
                server._spawn_callback(callback, DisconnectedError("the client is gone"))
            return
        if server._outgoing:
            server._notify_outgoing(self.sid, self.namespace, event, args)
        ack_id = None
        if callback is not None:
            ack_id = server._next_ack_id()
            entry = CallbackEntry(callback, timeout is not None, server._spawn_task, server._callback_error)
            entry.table = self.acks
            entry.ack_id = ack_id
            if timeout is not None:
                entry.timer = server.runtime.call_later(timeout, entry.expire)
            self.acks[ack_id] = entry
        self.write(server._encode_event(self.namespace, [event, *args], ack_id), volatile, compress)

    def call(self, event: str, args: List[Any], timeout: Optional[float]) -> Any:
        """Emit and wait for this socket's acknowledgement (``sio.call(..., to=sid)``)."""
        server = self.server
        if self.state >= _DISCONNECTING:
            raise DisconnectedError("the client is gone")
        if self.state == _CONNECTING and self.worker is not None and self.worker is server.runtime.getcurrent():
            raise RuntimeError("call() to a socket from its own connect handler would deadlock: "
                               "the client answers only after the connection is accepted")
        if server._outgoing:
            server._notify_outgoing(self.sid, self.namespace, event, args)
        ack_id = server._next_ack_id()
        waiter = CallWaiter(server.runtime)
        self.acks[ack_id] = waiter
        try:
            self.write(server._encode_event(self.namespace, [event, *args], ack_id), False, None)
            waiter.result.wait(timeout)
            if not waiter.result.ready():
                raise TimeoutError(f"no acknowledgement for {event!r} within {timeout} s")
            return ack_value(waiter.result.get())
        finally:
            self.acks.pop(ack_id, None)
