"""The Socket.IO v5 server: the public facade (python-socketio's ``socketio.Server`` API, Node's behaviour).

This module holds what users call; the machinery is split the way Node's
``socket.io`` is (``lib/index.ts``, ``client.ts``, ``socket.ts``, ``namespace.ts``,
``broadcast-operator.ts``):

- :mod:`.client`: one :class:`~.client.Client` per Engine.IO connection: the
  decoder and binary attachments, namespace CONNECTs, the connect and attachment
  timeouts, connection-state recovery;
- :mod:`.socket`: one :class:`~.socket.Socket` per namespace connection: its
  inbox and worker greenlet, handlers and hooks, acks, lifecycle, emit to it;
- :mod:`._registry` (handler tables, dynamic namespaces) and :mod:`.namespace`
  (class-based namespaces): the namespaces;
- :mod:`.broadcast`: the adapter's view of the server (:class:`~.broadcast.Broadcaster`,
  encode once per broadcast) and the chainable operators;
- :mod:`.acks`, :mod:`.middleware`, :mod:`.reasons`, :mod:`.options`, :mod:`.admin`.

The server sits on an Engine.IO server (``sio.eio``) and sees three callbacks
per Engine.IO session (connect, message, disconnect); it keeps the tables of
clients and sockets that the pieces above share.

Why this module is longer than ~600 lines: it is python-socketio's whole public
``Server`` API, each method with its docstring; the machinery lives in the
modules above.

Reference: ``socketio/socket.io: packages/socket.io/lib/index.ts``;
python-socketio ``server.py`` / ``base_server.py`` for names and signatures.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

from ..adapters.base import Adapter, BroadcastOptions, RecoveryOptions
from ..adapters.memory import MemoryManager
from ..engine import Server as EngineServer
from ..errors import DisconnectedError
from ..protocol import socketio as sioproto
from ._registry import NamespaceKey, Registry
from .acks import BroadcastAckResult
from .broadcast import Broadcaster, BroadcastOperator, RemoteSocket, _AdapterHost
from .client import Client
from .compat import PythonSocketIOAttributes
from .middleware import AfterHook, AroundHook
from .namespace import Namespace
from .options import check_options, make_serializer, recovery_options
from .reasons import reason
from .socket import Socket, SocketState, args_of

__all__ = ["Server"]

_CONNECTED = SocketState.CONNECTED
_DISCONNECTING = SocketState.DISCONNECTING

_DEFAULT_CONNECT_TIMEOUT = 45.0  # Node's connectTimeout (45 s)
_DEFAULT_MAX_NAMESPACES = 16  # distinct namespaces one connection may ask for (security row S2)
_DEFAULT_ATTACHMENT_TIMEOUT = 30.0  # a binary packet's attachments must arrive within this (row S5)
_DEFAULT_MAX_AUTH_SIZE = 16 * 1024  # bytes of a CONNECT packet (gofiber's MaxAuthPayload idea)
_DEFAULT_MAX_QUEUED_EVENTS = 1024
_DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

Data = Any
Target = Union[None, str, List[str], Tuple[str, ...], Set[str]]


#: entry points the application may call from any thread (the threading runtime guards them)
_THREAD_SAFE_API = ("emit", "send", "call", "enter_room", "leave_room", "close_room", "rooms", "get_session",
                    "save_session", "disconnect", "transport", "get_environ", "fetch_sockets", "sockets_join",
                    "sockets_leave", "disconnect_sockets", "server_side_emit", "is_recovered", "handle_request",
                    "shutdown", "instrument", "_broadcast", "call_broadcast")


class Server(PythonSocketIOAttributes):
    """A Socket.IO v5 server. Serve it with ``siothread.WSGIApp(sio)``.

    Args (Socket.IO layer; every other keyword goes to
    :class:`siothread.engine.Server`, which raises ``TypeError`` on unknown names):
        client_manager: the adapter (:class:`~siothread.adapters.memory.MemoryManager` by default).
        logger: False (errors only), True (info), or a ``logging.Logger``.
        serializer: ``'default'`` (JSON), ``'msgpack'`` (``socket.io-msgpack-parser``
            compatible), or a module with ``encode(packet)`` and ``Decoder``.
        json: a module with ``dumps``/``loads`` used by the default serializer.
        async_handlers: run handlers on a per-socket worker greenlet (default) or inline.
        always_connect: send the CONNECT ack before the connect handler runs
            (a refusal then becomes a DISCONNECT). Emits made in the connect
            handler reach the client after the ack either way.
        namespaces: namespaces that accept connections besides ``'/'`` and those
            with handlers: a list, or ``'*'`` for any.
        connect_timeout: seconds an Engine.IO session may stay without any
            namespace before it is closed (Node's ``connectTimeout``).
        engineio_logger: the ``logger`` option of the engine.
        max_namespaces: distinct namespaces one connection may ask for; one more
            closes the connection.
        attachment_timeout: seconds for the attachments of a binary packet to arrive.
        max_auth_size: maximum size in bytes of a CONNECT packet (the auth payload).
        recovery: connection-state recovery (Node's ``connectionStateRecovery``):
            None/False (off), True (defaults) or a dict with the fields of
            :class:`~siothread.adapters.base.RecoveryOptions`
            (``max_disconnection_duration=120``, ``skip_middlewares=True``,
            ``max_stored_packets=10000``, ``max_sessions=100000``). A client
            that lost its connection gets back its sid, rooms, session data and
            the events it missed; see :meth:`is_recovered`.
        max_queued_events: received events one socket may have waiting for its
            handler (``async_handlers``). Past that the server stops reading from
            that client until the handler has worked through half of them: the
            client's own TCP window then holds the rest (backpressure), and the
            server's memory stays bounded whatever the client sends. The client's
            heartbeat is not held against it meanwhile.
        max_queued_bytes: the same bound in bytes, counted for events of 4 KiB and
            more (default 16 MiB, and at least twice ``max_http_buffer_size``).
    """

    reason = reason
    #: the Engine.IO server class the Socket.IO server builds on (tests substitute an in-memory one)
    engine_class: Any = EngineServer

    def __init__(
        self,
        client_manager: Optional[Adapter] = None,
        logger: Union[bool, logging.Logger] = False,
        serializer: Any = "default",
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: Union[None, str, List[str]] = None,
        *,
        connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT,
        engineio_logger: Union[bool, logging.Logger] = False,
        max_namespaces: int = _DEFAULT_MAX_NAMESPACES,
        attachment_timeout: float = _DEFAULT_ATTACHMENT_TIMEOUT,
        max_auth_size: int = _DEFAULT_MAX_AUTH_SIZE,
        recovery: Union[None, bool, Dict[str, Any], RecoveryOptions] = None,
        max_queued_events: int = _DEFAULT_MAX_QUEUED_EVENTS,
        max_queued_bytes: Optional[int] = None,
        **engine_options: Any,
    ) -> None:
        check_options(connect_timeout=connect_timeout, attachment_timeout=attachment_timeout,
                      max_namespaces=max_namespaces, max_auth_size=max_auth_size,
                      max_queued_events=max_queued_events, max_queued_bytes=max_queued_bytes, namespaces=namespaces)
        recovery = recovery_options(recovery)
        engine_options["logger"] = engineio_logger
        self.eio = self.engine_class(**engine_options)
        self.runtime = self.eio.runtime
        auto = getattr(self.eio, "auto_runtime", None)
        if auto is not None:  # async_mode=None, decided at first use: then the runtime itself
            auto.on_resolve(self._runtime_resolved)
        self.eio.on("connect", self._on_eio_connect)
        self.eio.on("message", self._on_eio_message)
        self.eio.on("disconnect", self._on_eio_disconnect)

        if isinstance(logger, logging.Logger):
            self.logger = logger
            self._log = logger.isEnabledFor(logging.INFO)
        else:
            self.logger = logging.getLogger("siothread.server")
            if logger and self.logger.level == logging.NOTSET:
                self.logger.setLevel(logging.INFO)
            self._log = bool(logger)

        # The attachments of one packet may be as large as one Engine.IO message may be.
        self._limits = sioproto.Limits(max_attachment_bytes=self.eio.config.max_http_buffer_size)
        codec = make_serializer(serializer, json, self._limits)
        # looked up on the server at each use (so the pieces share one encoder)
        self._encode = codec.encode
        self._encode_event = codec.encode_event
        self._encode_ack = codec.encode_ack
        self._new_decoder = codec.new_decoder

        self.manager: Adapter = client_manager if client_manager is not None else MemoryManager()
        #: broadcasts, local delivery and ack collection; the adapter sees the server through it only
        self._broadcaster = Broadcaster(self)
        self.manager.attach(_AdapterHost(self._broadcaster))
        self._manager_ready = False

        self.async_handlers = bool(async_handlers)
        self.always_connect = bool(always_connect)
        self.namespaces = namespaces
        self._allowed: Set[str] = set(namespaces) if isinstance(namespaces, (list, tuple, set)) else set()
        self.connect_timeout = float(connect_timeout)
        self.max_namespaces = max_namespaces
        self.attachment_timeout = float(attachment_timeout)
        self.max_queued_events = max_queued_events
        self.max_queued_bytes = (max_queued_bytes if max_queued_bytes is not None else
                                 max(_DEFAULT_MAX_QUEUED_BYTES, 2 * self.eio.config.max_http_buffer_size))
        self.max_auth_size = max_auth_size

        self._registry = Registry()
        self._clients: Dict[str, Client] = {}
        self._sockets: Dict[str, Socket] = {}
        self._ack_id = 0
        self._workers: Set[Any] = set()
        self._tasks: Set[Any] = set()
        self._around: List[AroundHook] = []
        self._after: List[AfterHook] = []
        self._hooked = False
        self._outgoing: List[Callable[[str, str, str, List[Any]], None]] = []
        self._server_handlers: Dict[Tuple[str, str], Callable[..., Any]] = {}
        self._observers: List[Any] = []
        self._closing = False
        self._draining = False
        self._shut_down = False
        #: connection-state recovery (None: off, and the emit paths pay one attribute check)
        self._recovery: Optional[RecoveryOptions] = recovery
        self._pids: Dict[str, Socket] = {}  # pid -> socket not yet closed
        self._deferred: Dict[Socket, Tuple[Client, Any, int]] = {}  # previous socket -> CONNECT waiting for it
        if recovery is not None:
            self.manager.enable_recovery(recovery)
        self.runtime.guard(self, _THREAD_SAFE_API)
        self.runtime.guard(self.manager, [n for n in dir(type(self.manager)) if not n.startswith("_")])

    def _runtime_resolved(self, mode: str, runtime: Any) -> None:
        self.runtime = runtime

    # ------------------------------------------------------------- registration
    def on(self, event: str, handler: Optional[Callable[..., Any]] = None,
           namespace: Optional[NamespaceKey] = None) -> Any:
        """Register a handler, as ``@sio.on('event', namespace=...)`` or ``sio.on('event', fn)``.

        ``connect(sid, environ[, auth])`` may return False or raise
        ConnectionRefusedError; ``disconnect(sid[, reason])``; ``'*'`` catches
        every event without a handler and receives the event name first. With
        ``namespace='*'`` or a dynamic parent (compiled regex or
        ``callable(name, auth) -> bool``), handlers receive the namespace name
        before the sid. The handler's return value is the ack (a tuple gives
        several arguments).
        """
        if not isinstance(event, str) or not event:
            raise TypeError("the event name must be a non-empty string")
        key: NamespaceKey = namespace if namespace is not None else "/"

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._registry.handler_set(key).set_handler(event, self.runtime.app_code(fn))
            return fn

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@sio.event`` / ``@sio.event(namespace='/x')``: the function name is the event name."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            fn = args[0]
            return self.on(fn.__name__, fn)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            return self.on(fn.__name__, fn, *args, **kwargs)  # type: ignore[no-any-return]

        return register

    def register_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based :class:`Namespace` instance."""
        if not isinstance(namespace_handler, Namespace):
            raise ValueError("not a siothread.server.Namespace instance")
        app_code = self.runtime.app_code
        handlers = {event: app_code(fn) for event, fn in namespace_handler._set_server(self).items()}
        trigger = app_code(namespace_handler.trigger_event) if namespace_handler._overrides_trigger() else None
        hs = self._registry.handler_set(namespace_handler.namespace)
        hs.set_namespace_object(namespace_handler, handlers, trigger)

    def use(self, fn: Optional[Callable[..., Any]] = None, namespace: Optional[NamespaceKey] = None) -> Any:
        """Add connect-time middleware ``fn(sid, environ, auth)`` (see :mod:`.middleware`)."""
        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self._registry.add_connect_middleware(namespace, self.runtime.app_code(f))
            return f

        return register if fn is None else register(fn)

    def use_event(self, fn: Optional[Callable[..., Any]] = None, namespace: Optional[NamespaceKey] = None) -> Any:
        """Add per-event middleware ``fn(sid, event, args)`` (see :mod:`.middleware`)."""
        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self._registry.add_event_middleware(namespace, self.runtime.app_code(f))
            return f

        return register if fn is None else register(fn)

    def around(self, fn: AroundHook) -> AroundHook:
        """Wrap every handler: ``fn(call, info)`` must return ``call()``'s result (or a replacement)."""
        self._around.append(self.runtime.app_code(fn))
        self._hooked = True
        return fn

    def after_event(self, fn: AfterHook) -> AfterHook:
        """Run ``fn(info, error)`` after every handler, whether it returned or raised."""
        self._after.append(self.runtime.app_code(fn))
        self._hooked = True
        return fn

    def on_outgoing(self, fn: Callable[[str, str, str, List[Any]], None]) -> Callable[[str, str, str, List[Any]], None]:
        """Node's ``onAnyOutgoing``: ``fn(sid, namespace, event, args)`` for every event sent to a socket.

        It runs synchronously in the emitting greenlet, once per recipient; keep it short.
        """
        self._outgoing.append(self.runtime.app_code(fn))
        return fn

    def on_server_event(self, event: str, handler: Optional[Callable[..., Any]] = None,
                        namespace: Optional[str] = None) -> Any:
        """Handle an event another server sent with :meth:`server_side_emit`: ``fn(*args)``.

        The return value answers the sender's callback.
        """
        ns = namespace or "/"

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._server_handlers[(ns, event)] = self.runtime.app_code(fn)
            return fn

        return register if handler is None else register(handler)

    # ------------------------------------------------------ Engine.IO callbacks
    def _on_eio_connect(self, eio_sid: str, environ: Dict[str, Any]) -> Optional[bool]:
        if self._closing:
            return False
        if not self._manager_ready:
            self._manager_ready = True
            self.manager.initialize()
        protocol = getattr(self.eio, "protocol", None)
        legacy = protocol is not None and protocol(eio_sid) == 3
        client = self._clients[eio_sid] = Client(self, eio_sid, environ, legacy)
        if self._observers:
            self._observe("raw_connection", eio_sid)
        if legacy:
            client.connect_main_namespace()
        return None

    def _on_eio_message(self, eio_sid: str, data: Union[str, bytes]) -> None:
        client = self._clients.get(eio_sid)
        if client is not None:
            client.receive(data)

    def _on_eio_disconnect(self, eio_sid: str, engine_reason: str) -> None:
        client = self._clients.pop(eio_sid, None)
        if client is not None:
            client.engine_closed(engine_reason)

    def _notify_outgoing(self, sid: str, namespace: str, event: str, args: List[Any]) -> None:
        for hook in self._outgoing:
            try:
                hook(sid, namespace, event, args)
            except Exception as exc:
                self.logger.error("error in an outgoing hook (event %r, sid %s)", event, sid, exc_info=exc)

    def _next_ack_id(self) -> int:
        """Ack ids come from one server-wide counter, so a broadcast gives all recipients the same id."""
        self._ack_id += 1
        return self._ack_id

    def is_recovered(self, sid: str, namespace: Optional[str] = None) -> bool:
        """Whether the client's connection took over its previous session.

        True when connection-state recovery restored the sid, the rooms, the
        session data and replayed the missed events (Node's ``socket.recovered``).
        Usable in the connect handler. False for an unknown sid.
        """
        sock = self._sockets.get(sid)
        return sock is not None and sock.recovered and (namespace is None or sock.namespace == namespace)


    # ---------------------------------------------------------------- emitting
    def emit(self, event: str, data: Data = None, to: Target = None, room: Target = None,
             skip_sid: Target = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, ignore_queue: bool = False,
             volatile: bool = False, compress: Optional[bool] = None, timeout: Optional[float] = None) -> None:
        """Emit an event to one client, a room, several rooms, or everyone in the namespace.

        Args:
            data: the argument; a tuple sends several arguments; None sends none.
            to / room: a sid, a room, or a list of rooms; None for everyone.
            skip_sid: sids or rooms to leave out (a sid is a room).
            callback: to one client: ``callback(*ack_args)``, or with ``timeout``
                ``callback(error, *ack_args)`` where error is None, a
                :class:`~siothread.errors.TimeoutError` or a
                :class:`~siothread.errors.DisconnectedError`. To a room:
                ``callback(result)`` with a :class:`BroadcastAckResult` once every
                recipient acked, left, or the timeout passed.
            ignore_queue: only this node (no cluster fan-out).
            volatile: drop for a client that cannot take it right now.
            compress: per-emit compression flag (None: server default).

        Raises:
            ValueError: ``event`` is a reserved name.
        """
        if not isinstance(event, str) or event in sioproto.RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved or invalid event name")
        ns = namespace or "/"
        target = to if to is not None else room
        if type(target) is str and skip_sid is None:
            sock = self._sockets.get(target)
            if sock is not None and sock.namespace == ns:
                if callback is None and self._recovery is None and not self._outgoing and sock.state < _DISCONNECTING:
                    # Socket.emit for the common case, inline (one call less per emit);
                    # test_sio_fast_paths.py::test_fast_and_general_paths_send_the_same_messages keeps them equal
                    if data is None:
                        payload = [event]
                    elif isinstance(data, tuple):
                        payload = [event, *data]
                    else:
                        payload = [event, data]
                    sock.write(self._encode_event(ns, payload, None), volatile, compress)
                    return
                sock.emit(event, data, callback, timeout, volatile, compress)
                return
        args = args_of(data)
        opts = BroadcastOptions.build(target, skip_sid, volatile=volatile, compress=compress, local=ignore_queue)
        self._broadcaster.broadcast(ns, event, args, opts, callback, timeout)

    def send(self, data: Data, to: Target = None, room: Target = None, skip_sid: Target = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False, **kwargs: Any) -> None:
        """Emit a ``'message'`` event (python-socketio's ``send``)."""
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                  callback=callback, ignore_queue=ignore_queue, **kwargs)


    def _spawn_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                callback(*args)
            except Exception as exc:
                self._callback_error(exc)

        self._spawn_task(run)

    def _callback_error(self, exc: BaseException) -> None:
        self.logger.error("error in an ack callback", exc_info=exc)

    def _spawn_task(self, fn: Callable[..., Any], *args: Any) -> Any:
        task = self.runtime.spawn(self.runtime.app_code(fn), *args)
        self._tasks.add(task)
        task.rawlink(self._tasks.discard)
        return task

    def call(self, event: str, data: Data = None, to: Target = None, sid: Optional[str] = None,
             namespace: Optional[str] = None, timeout: Optional[float] = 60, ignore_queue: bool = False,
             skip_sid: Target = None) -> Any:
        """Emit and wait for the acknowledgement (blocks this greenlet).

        To one client (``to`` is the sid of a connected socket): returns the ack
        (None, the single argument, or a tuple). To a room or a list of rooms:
        returns a :class:`BroadcastAckResult` once every recipient acked, left or
        timed out.

        Raises:
            TimeoutError: one client did not acknowledge within ``timeout``.
            DisconnectedError: the client left (at once, not at the deadline), or
                no client matched a single-name target.
            RuntimeError: called from a socket's own connect handler (the client
                cannot acknowledge before the connection is accepted).
        """
        if not isinstance(event, str) or event in sioproto.RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved or invalid event name")
        target = to if to is not None else sid
        if target is None:
            raise ValueError("call() needs a target: to=sid or to=room")
        ns = namespace or "/"
        args = args_of(data)
        if type(target) is str and skip_sid is None:
            sock = self._sockets.get(target)
            if sock is not None and sock.namespace == ns:
                return sock.call(event, args, timeout)
        opts = BroadcastOptions.build(target, skip_sid, local=ignore_queue)
        result = self.call_broadcast(ns, event, args, opts, timeout)
        if type(target) is str and len(result) == 0:
            raise DisconnectedError(f"no connected client matches {target!r}")
        return result

    def _broadcast(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                  callback: Optional[Callable[[BroadcastAckResult], Any]] = None,
                  timeout: Optional[float] = None) -> None:
        """Broadcast ``event`` (used by :class:`BroadcastOperator`; with ``callback``, gather the acks)."""
        self._broadcaster.broadcast(namespace, event, args, opts, callback, timeout)

    def call_broadcast(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                       timeout: Optional[float]) -> BroadcastAckResult:
        """Broadcast with acks and wait for the per-sid result (used by :class:`BroadcastOperator`)."""
        return self._broadcaster.call(namespace, event, args, opts, timeout)


    # -------------------------------------------------------- chainable operators
    def of(self, namespace: str) -> BroadcastOperator:
        """A broadcast operator on ``namespace``: ``sio.of('/chat').to('room').emit(...)``."""
        return BroadcastOperator(self, namespace)

    def to(self, room: Union[str, List[str]], namespace: Optional[str] = None) -> BroadcastOperator:
        """``sio.to(room).except_(other).volatile.timeout(5).emit(...)``."""
        return BroadcastOperator(self, namespace or "/").to(room)

    in_ = to

    def except_(self, room: Union[str, List[str]], namespace: Optional[str] = None) -> BroadcastOperator:
        return BroadcastOperator(self, namespace or "/").except_(room)

    def timeout(self, seconds: float, namespace: Optional[str] = None) -> BroadcastOperator:
        return BroadcastOperator(self, namespace or "/").timeout(seconds)

    @property
    def volatile(self) -> BroadcastOperator:
        return BroadcastOperator(self, "/").volatile

    @property
    def local(self) -> BroadcastOperator:
        return BroadcastOperator(self, "/").local

    # ------------------------------------------------------------------ rooms
    def _ns_of(self, sid: str, namespace: Optional[str]) -> str:
        if namespace is not None:
            return namespace
        sock = self._sockets.get(sid)
        return sock.namespace if sock is not None else "/"

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Add a client to a room; a no-op once the client is leaving (row S9)."""
        sock = self._sockets.get(sid)
        if sock is not None and sock.state >= _DISCONNECTING:
            return
        self.manager.enter_room(self._ns_of(sid, namespace), sid, room)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        self.manager.leave_room(self._ns_of(sid, namespace), sid, room)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Remove every client from ``room``."""
        self.manager.close_room(namespace or "/", room)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms of a client, its own sid room first."""
        return self.manager.get_rooms(self._ns_of(sid, namespace), sid)

    def fetch_sockets(self, room: Target = None, namespace: Optional[str] = None,
                      skip: Target = None) -> List[RemoteSocket]:
        """The sockets in ``room`` (all of the namespace when None): id, rooms, data, handshake."""
        return BroadcastOperator(self, namespace or "/", room, skip).fetch_sockets()

    def sockets_join(self, room: Union[str, List[str]], to: Target = None, namespace: Optional[str] = None) -> None:
        """Make the sockets in ``to`` (everyone when None) join ``room``."""
        BroadcastOperator(self, namespace or "/", to).sockets_join(room)

    def sockets_leave(self, room: Union[str, List[str]], to: Target = None, namespace: Optional[str] = None) -> None:
        """Make the sockets in ``to`` (everyone when None) leave ``room``."""
        BroadcastOperator(self, namespace or "/", to).sockets_leave(room)

    def disconnect_sockets(self, to: Target = None, namespace: Optional[str] = None, close: bool = False) -> None:
        """Disconnect the sockets in ``to`` (everyone when None); ``close`` closes their connections."""
        BroadcastOperator(self, namespace or "/", to).disconnect_sockets(close)

    def server_side_emit(self, event: str, data: Data = None, namespace: Optional[str] = None,
                         callback: Optional[Callable[[List[Any]], None]] = None,
                         timeout: Optional[float] = None) -> None:
        """Send an event to the other servers of the cluster (handled by :meth:`on_server_event`)."""
        self.manager.server_side_emit(namespace or "/", event, args_of(data), callback, timeout)

    # --------------------------------------------------------------- sessions
    def _socket(self, sid: str) -> Socket:
        sock = self._sockets.get(sid)
        if sock is None:
            raise KeyError(f"unknown client {sid!r}")
        return sock

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The client's session dict (mutations are kept). Raises KeyError for an unknown sid."""
        return self._socket(sid).session

    def save_session(self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None) -> None:
        """Replace the client's session dict."""
        if not isinstance(session, dict):
            raise TypeError("a session is a dict")
        self._socket(sid).session = session

    @contextlib.contextmanager
    def session(self, sid: str, namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """``with sio.session(sid) as s:`` edits the session and saves it on exit."""
        data = self.get_session(sid, namespace)
        yield data
        self.save_session(sid, data, namespace)

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The WSGI environ of the client's handshake request."""
        sock = self._sockets.get(sid)
        return sock.client.environ if sock is not None else None

    def transport(self, sid: str, namespace: Optional[str] = None) -> str:
        """``'polling'`` or ``'websocket'``."""
        return self.eio.transport(self._socket(sid).eio_sid)

    def disconnect(self, sid: str, namespace: Optional[str] = None, ignore_queue: bool = False) -> None:
        """Disconnect a client from its namespace; its disconnect handler gets SERVER_DISCONNECT."""
        sock = self._sockets.get(sid)
        if sock is not None and (namespace is None or sock.namespace == namespace):
            sock.leave(reason.SERVER_DISCONNECT, notify=True)
            return
        if not ignore_queue:
            self.manager.disconnect_sockets(namespace or "/", BroadcastOptions.build(sid), False)

    # ---------------------------------------------------------------- runtime
    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target`` in a greenlet the server owns (``shutdown`` ends it at the latest)."""
        task = self.runtime.spawn(self.runtime.app_code(target), *args, **kwargs)
        self._tasks.add(task)
        task.rawlink(self._tasks.discard)
        return task

    def sleep(self, seconds: float = 0) -> None:
        self.runtime.sleep(seconds)

    def handle_request(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The WSGI entry point (``siothread.WSGIApp`` calls it)."""
        return self.eio.handle_request(environ, start_response)

    def instrument(self, auth: Any = None, mode: str = "development", read_only: bool = False,
                   server_id: Optional[str] = None, namespace: str = "/admin",
                   server_stats_interval: float = 2, allow_plain_password: bool = False) -> Any:
        """Let the official ``@socket.io/admin-ui`` dashboard watch this server.

        ``auth``: False (no authentication), a dict ``{"username": ..., "password": <bcrypt hash>}``,
        a list of such dicts, or ``callable(auth) -> bool``. A password that is not a bcrypt
        hash raises ValueError unless ``allow_plain_password=True`` (see
        :mod:`siothread.server.admin_auth`). Returns the instrumentation.
        """
        from .admin import Instrumentation

        return Instrumentation(self, auth=auth, mode=mode, read_only=read_only, server_id=server_id,
                               namespace=namespace, server_stats_interval=server_stats_interval,
                               allow_plain_password=allow_plain_password)

    def _observe(self, what: str, *args: Any) -> None:
        for observer in self._observers:
            try:
                getattr(observer, what)(*args)
            except Exception as exc:
                self.logger.error("error in the %s observer", what, exc_info=exc)

    # --------------------------------------------------------------- shutdown
    def shutdown(self, timeout: float = 10.0) -> None:
        """Graceful drain; returns when every greenlet the server owns has ended.

        New handshakes and namespace connections are refused; pending ack
        waiters fail with :class:`~siothread.errors.DisconnectedError`; running
        handlers may finish until the deadline (queued events are dropped);
        queued packets are flushed and every connection is closed, the
        disconnect handlers getting ``reason.SERVER_SHUTTING_DOWN``. What still
        runs at ``timeout`` is killed.
        """
        if self._shut_down:
            return
        self._shut_down = True
        rt = self.runtime
        deadline = rt.monotonic() + max(0.0, float(timeout))
        reserve = min(1.0, timeout * 0.25)

        def left(margin: float = 0.0) -> float:
            return max(0.0, deadline - margin - rt.monotonic())

        self._closing = True
        self.eio.stop_accepting()
        # 1. nobody stays blocked on an ack: callers of call() get DisconnectedError now
        error = DisconnectedError("server shutting down")
        for sock in list(self._sockets.values()):
            sock.fail_acks()
        for collector in list(self._broadcaster.collectors):
            collector.cancel(error)
        # 2. running handlers finish (queued events are dropped) until the deadline
        self._draining = True
        for sock in list(self._sockets.values()):
            sock.wake_worker()
        if self._workers:
            rt.joinall(list(self._workers), timeout=left(reserve))
            self._kill(self._workers)
        # 3. flush and close every connection; disconnect handlers are queued on workers
        self.eio.shutdown(left(reserve / 2), reason="server shutting down")
        for eio_sid in list(self._clients):
            self._on_eio_disconnect(eio_sid, "server shutting down")
        # 4. disconnect handlers run until the deadline
        if self._workers:
            rt.joinall(list(self._workers), timeout=left())
            self._kill(self._workers)
        for sock in list(self._sockets.values()):
            if sock.state == _CONNECTED:
                sock.detach(reason.SERVER_SHUTTING_DOWN)
            sock.finalize()
        # 5. background tasks (admin stats, ack callbacks, user tasks) end with the server
        self._kill(self._tasks)
        self.manager.close()

    def _kill(self, greenlets: Set[Any]) -> None:
        alive = [g for g in greenlets if not g.dead]
        if alive:
            self.runtime.killall(alive, block=True, timeout=1.0)
        greenlets.clear()


