"""The Socket.IO v5 server (python-socketio's ``socketio.Server`` API, Node's behaviour).

Theory of operation
-------------------
The server sits on an Engine.IO server (``sio.eio``) and sees three callbacks
per Engine.IO session: connect, message, disconnect. They run in the session's
reader greenlet and never run application code: a message is decoded (the
codec owns binary reassembly and every validation), then

- an ACK resolves an entry of the socket's ack table on the spot;
- CONNECT, EVENT and the socket's disconnect go to the socket's *inbox*, drained
  in order by a per-socket worker greenlet that exists only while there is work
  (``async_handlers=True``). So a handler can block, even in ``call()``, while
  the reader keeps reading acks; and events of one socket run in arrival order.
  With ``async_handlers=False`` handlers run inline in the reader.

Rooms belong to the adapter (``client_manager``, :class:`MemoryManager` by
default). A broadcast asks the adapter for the recipients, and the adapter
calls back :meth:`Server._deliver`, which encodes the packet once, prepares the
Engine.IO frames once and hands the same object to each recipient. One prepared
object is one write, so a multi-frame binary packet never interleaves with
another sender's.

Reference: ``socketio/socket.io: packages/socket.io/lib/{client,namespace,socket}.ts``;
python-socketio ``server.py`` / ``base_server.py`` for names and signatures.
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections import deque
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union
from urllib.parse import parse_qs

from ..adapters.base import Adapter, BroadcastOptions, RecoveredSession, RecoveryOptions, SocketDetails
from ..adapters.memory import MemoryManager
from ..engine import Server as EngineServer
from ..errors import ConnectionRefusedError, DisconnectedError, RemoteProtocolError, TimeoutError
from ..protocol import socketio as sioproto
from ._registry import NamespaceKey, Registry
from ._socket import BIG_EVENT, CONNECT, DISCONNECT, Client, Socket, SocketState
from .acks import BroadcastAckCollector, BroadcastAckResult, CallbackEntry, CallWaiter, ack_value
from .broadcast import BroadcastOperator, RemoteSocket
from .compat import PythonSocketIOAttributes
from .middleware import AfterHook, AroundHook, HandlerInfo
from .namespace import Namespace
from .reasons import engine_reason_to_socketio, reason

__all__ = ["Server"]

#: entry points the application may call from any thread (the threading runtime guards them)
_THREAD_SAFE_API = ("emit", "send", "call", "enter_room", "leave_room", "close_room", "rooms", "get_session",
                    "save_session", "disconnect", "transport", "get_environ", "fetch_sockets", "sockets_join",
                    "sockets_leave", "disconnect_sockets", "server_side_emit", "is_recovered", "handle_request",
                    "shutdown", "instrument", "_broadcast", "call_broadcast")

_P_CONNECT = sioproto.PacketType.CONNECT
_P_DISCONNECT = sioproto.PacketType.DISCONNECT
_P_EVENT = sioproto.PacketType.EVENT
_P_ACK = sioproto.PacketType.ACK
_P_CONNECT_ERROR = sioproto.PacketType.CONNECT_ERROR
_P_BINARY_EVENT = sioproto.PacketType.BINARY_EVENT
_P_BINARY_ACK = sioproto.PacketType.BINARY_ACK
_Packet = sioproto.Packet

_CONNECTING = SocketState.CONNECTING
_CONNECTED = SocketState.CONNECTED
_DISCONNECTING = SocketState.DISCONNECTING
_CLOSED = SocketState.CLOSED

# Every option the Socket.IO layer consumes itself; the rest go to the engine.
_DEFAULT_CONNECT_TIMEOUT = 45.0  # Node's connectTimeout (45 s)
_DEFAULT_MAX_NAMESPACES = 16  # distinct namespaces one connection may ask for (security row S2)
_DEFAULT_ATTACHMENT_TIMEOUT = 30.0  # a binary packet's attachments must arrive within this (row S5)
_DEFAULT_MAX_AUTH_SIZE = 16 * 1024  # bytes of a CONNECT packet (gofiber's MaxAuthPayload idea)
#: reasons after which a session is kept for recovery (Node's RECOVERABLE_DISCONNECT_REASONS,
#: plus a slow consumer whose connection was closed): the connection was lost, the client did not leave
_RECOVERABLE = frozenset((reason.TRANSPORT_ERROR, reason.TRANSPORT_CLOSE, reason.FORCED_CLOSE, reason.PING_TIMEOUT,
                          reason.SERVER_SHUTTING_DOWN, reason.SLOW_CONSUMER))
_DEFERRED: Any = object()  # _restore: wait until the previous socket of the session has closed
#: seconds a socket's worker waits for the next event before it ends (a busy socket keeps its worker)
_WORKER_LINGER = 1.0
#: events a worker handles before it lets the event loop run (other connections, timers)
_WORKER_TURN = 64
#: events at least this large (bytes) are counted against ``max_queued_bytes``; smaller
#: ones only against ``max_queued_events`` (which bounds their bytes at this size each)
_BIG_EVENT_BYTES = 4096
_DEFAULT_MAX_QUEUED_EVENTS = 1024
_DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

Data = Any
Target = Union[None, str, List[str], Tuple[str, ...], Set[str]]


def _args_of(data: Data) -> List[Any]:
    """python-socketio's data convention: None = no argument, tuple = several."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def _handshake(environ: Dict[str, Any], auth: Dict[str, Any], issued: float) -> Dict[str, Any]:
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


def _recovery_options(value: Any) -> Optional[RecoveryOptions]:
    if value is None or value is False:
        return None
    if value is True:
        return RecoveryOptions()
    if isinstance(value, RecoveryOptions):
        options = value
    elif isinstance(value, dict):
        unknown = set(value) - set(RecoveryOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown recovery option(s): {', '.join(sorted(unknown))}")
        options = RecoveryOptions(**value)
    else:
        raise TypeError("recovery must be None, True or a dict")
    if not options.max_disconnection_duration > 0:
        raise ValueError("recovery max_disconnection_duration must be > 0")
    for name in ("max_stored_packets", "max_sessions"):
        number = getattr(options, name)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"recovery {name} must be an integer >= 1")
    return RecoveryOptions(float(options.max_disconnection_duration), bool(options.skip_middlewares),
                           options.max_stored_packets, options.max_sessions)


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
        if not connect_timeout > 0:
            raise ValueError("connect_timeout must be > 0")
        if not attachment_timeout > 0:
            raise ValueError("attachment_timeout must be > 0")
        if not isinstance(max_namespaces, int) or max_namespaces < 1:
            raise ValueError("max_namespaces must be an integer >= 1")
        recovery_options = _recovery_options(recovery)
        if not isinstance(max_auth_size, int) or max_auth_size < 2:
            raise ValueError("max_auth_size must be an integer >= 2")
        if not isinstance(max_queued_events, int) or isinstance(max_queued_events, bool) or max_queued_events < 2:
            raise ValueError("max_queued_events must be an integer >= 2")
        if max_queued_bytes is not None and (not isinstance(max_queued_bytes, int) or max_queued_bytes < 1):
            raise ValueError("max_queued_bytes must be a positive integer")
        if namespaces is not None and namespaces != "*":
            if isinstance(namespaces, str) or not all(isinstance(n, str) for n in namespaces):
                raise TypeError("namespaces must be None, '*' or a list of namespace names")
        engine_options["logger"] = engineio_logger
        self.eio = self.engine_class(**engine_options)
        self.runtime = self.eio.runtime
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
        self._setup_serializer(serializer, json)

        self.manager: Adapter = client_manager if client_manager is not None else MemoryManager()
        self.manager.attach(_AdapterHost(self))
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
        self._collectors: Set[BroadcastAckCollector] = set()
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
        self._recovery: Optional[RecoveryOptions] = recovery_options
        self._pids: Dict[str, Socket] = {}  # pid -> socket not yet closed
        self._deferred: Dict[Socket, Tuple[Client, Any, int]] = {}  # previous socket -> CONNECT waiting for it
        if recovery_options is not None:
            self.manager.enable_recovery(recovery_options)
        self.runtime.guard(self, _THREAD_SAFE_API)
        self.runtime.guard(self.manager, [n for n in dir(type(self.manager)) if not n.startswith("_")])

    # ------------------------------------------------------------------ setup
    def _setup_serializer(self, serializer: Any, json_module: Any) -> None:
        if serializer == "default":
            dumps = getattr(json_module, "dumps", None) if json_module is not None else None
            loads = getattr(json_module, "loads", None) if json_module is not None else None
            if json_module is not None and (dumps is None or loads is None):
                raise TypeError("json must provide dumps() and loads()")
            limits = self._limits
            if dumps is None:
                self._encode: Callable[[Any], List[Any]] = sioproto.encode
                # what sending an event or an ack costs most of the time: no Packet is built
                self._encode_event: Callable[[str, List[Any], Optional[int]], List[Any]] = sioproto.encode_event
                self._encode_ack: Callable[[str, List[Any], int], List[Any]] = sioproto.encode_ack
            else:
                def encode(packet: Any, _enc: Any = sioproto.encode, _d: Any = dumps) -> List[Any]:
                    return _enc(packet, dumps=_d)  # type: ignore[no-any-return]
                self._encode = encode
            self._new_decoder: Callable[[], Any] = lambda: sioproto.Decoder(limits, role="server", loads=loads)
        elif serializer == "msgpack":
            from ..protocol import msgpack_codec

            limits = self._limits
            self._encode = msgpack_codec.encode
            self._new_decoder = lambda: msgpack_codec.Decoder(limits, role="server")
        elif hasattr(serializer, "encode") and hasattr(serializer, "Decoder"):
            limits = self._limits
            self._encode = serializer.encode
            self._new_decoder = lambda: serializer.Decoder(limits, role="server")
        else:
            raise ValueError("serializer must be 'default', 'msgpack' or a codec module")
        if "_encode_event" not in vars(self):
            encode_packet = self._encode

            def encode_event(namespace: str, data: List[Any], ack_id: Optional[int] = None) -> List[Any]:
                return encode_packet(_Packet(_P_EVENT, namespace, data, ack_id))

            def encode_ack(namespace: str, data: List[Any], ack_id: int) -> List[Any]:
                return encode_packet(_Packet(_P_ACK, namespace, data, ack_id))

            self._encode_event = encode_event
            self._encode_ack = encode_ack

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
        client = Client(eio_sid, environ, self._new_decoder(), time.time())
        client.connect_timer = self.runtime.call_later(self.connect_timeout, self._connect_expired, client)
        self._clients[eio_sid] = client
        if self._observers:
            self._observe("raw_connection", eio_sid)
        return None

    def _on_eio_message(self, eio_sid: str, data: Union[str, bytes]) -> None:
        client = self._clients.get(eio_sid)
        if client is None:
            return
        if self._observers:
            self._observe("packet_in", len(data))
        try:
            packet = client.decoder.feed(data)
        except RemoteProtocolError as exc:
            self._protocol_error(client, exc.message)
            return
        if packet is None:
            client.partial_bytes += len(data)
            if client.attachment_timer is None:
                client.attachment_timer = self.runtime.call_later(
                    self.attachment_timeout, self._attachment_expired, client)
            return
        size = len(data)
        if client.attachment_timer is not None:  # a binary packet is complete
            client.attachment_timer.cancel()
            client.attachment_timer = None
            size += client.partial_bytes
            client.partial_bytes = 0
        ptype = packet.type
        if ptype is _P_EVENT or ptype == _P_EVENT or ptype == _P_BINARY_EVENT:
            sock = client.sockets.get(packet.namespace)
            if sock is None:
                # not joined (or already left): never dispatched (security row S4)
                if self._log:
                    self.logger.info("event for namespace %s ignored: not connected", packet.namespace)
                return
            if self.async_handlers:
                # _queue, inlined: the event itself is the inbox item (control items are tuples)
                inbox = sock.inbox
                if type(inbox) is not deque:
                    inbox = sock.inbox = deque()
                if size < _BIG_EVENT_BYTES:
                    inbox.append(packet)
                else:
                    inbox.append((BIG_EVENT, packet, size))
                    sock.queued_bytes += size
                if sock.worker is None:
                    self._start_worker(sock)
                else:
                    parked = sock.parked
                    if parked is not None:
                        sock.parked = None
                        parked.wake()
                if len(inbox) > self.max_queued_events or sock.queued_bytes > self.max_queued_bytes:
                    self._hold_reader(sock)
            else:
                self._handle_event(sock, packet)
        elif ptype == _P_ACK or ptype == _P_BINARY_ACK:
            sock = client.sockets.get(packet.namespace)
            if sock is not None:
                entry = sock.acks.pop(packet.id, None)
                if entry is not None:
                    entry.resolve(packet.data)
        elif ptype == _P_CONNECT:
            self._on_connect_packet(client, packet, len(data))
        elif ptype == _P_DISCONNECT:
            sock = client.sockets.get(packet.namespace)
            if sock is not None:
                self._leave(sock, reason.CLIENT_DISCONNECT, notify=False)
        else:
            self._protocol_error(client, "a client may not send CONNECT_ERROR")

    def _on_eio_disconnect(self, eio_sid: str, engine_reason: str) -> None:
        client = self._clients.pop(eio_sid, None)
        if client is None:
            return
        client.closing = True
        client.cancel_timers()
        client.decoder = None  # a partial binary packet is dropped with it
        why = engine_reason_to_socketio(engine_reason)
        for sock in list(client.sockets.values()):
            self._leave(sock, why, notify=False)
        if self._observers:
            self._observe("raw_disconnection", eio_sid, why)

    def _close_client(self, client: Client, why: str, engine_reason: str) -> None:
        """The Socket.IO layer closes a whole connection (protocol error, timeouts)."""
        if client.closing:
            return
        client.closing = True
        client.cancel_timers()
        self._clients.pop(client.eio_sid, None)
        for sock in list(client.sockets.values()):
            self._leave(sock, why, notify=False)
        self.eio.disconnect(client.eio_sid, engine_reason)
        if self._observers:
            self._observe("raw_disconnection", client.eio_sid, why)

    def _protocol_error(self, client: Client, message: str) -> None:
        if self._log:
            self.logger.info("protocol error from %s, closing: %s", client.eio_sid, message)
        self._close_client(client, reason.PARSE_ERROR, "parse error")

    def _connect_expired(self, client: Client) -> None:
        client.connect_timer = None
        if client.closing or client.sockets:
            return
        if self._log:
            self.logger.info("connection %s joined no namespace in time, closing", client.eio_sid)
        self._close_client(client, reason.FORCED_CLOSE, "server disconnect")

    def _attachment_expired(self, client: Client) -> None:
        client.attachment_timer = None
        if client.closing or client.decoder is None or not client.decoder.awaiting_attachments:
            return
        self._protocol_error(client, "binary attachments did not arrive in time")

    # ---------------------------------------------------------------- connect
    def _on_connect_packet(self, client: Client, packet: Any, size: int) -> None:
        name = packet.namespace
        auth = packet.data
        if auth is None:
            auth = {}
        elif not isinstance(auth, dict):
            self._protocol_error(client, "the CONNECT payload must be an object")
            return
        if name in client.sockets:
            if self._log:
                self.logger.info("duplicate CONNECT for %s from %s ignored", name, client.eio_sid)
            return
        if name not in client.seen_namespaces:
            if len(client.seen_namespaces) >= self.max_namespaces:
                self._protocol_error(client, "too many namespaces on one connection")
                return
            client.seen_namespaces.add(name)
        if self._closing:
            self._send_connect_error(client, name, {"message": "server shutting down"})
            return
        if size > self.max_auth_size:
            self._send_connect_error(client, name, {"message": "Auth payload too large"})
            return
        registry = self._registry
        primary = registry.static.get(name)
        if primary is None:
            try:
                primary = registry.match_dynamic(name, auth)
            except Exception as exc:
                self.logger.error("dynamic namespace check failed for %r", name, exc_info=exc)
                primary = None
            if primary is None and not (
                name == "/" or name in self._allowed or self.namespaces == "*" or registry.catchall is not None
            ):
                # Node's answer, word for word (v5 test suite "unknown namespace")
                self._send_connect_error(client, name, {"message": "Invalid namespace"})
                return
        restored: Optional[RecoveredSession] = None
        if self._recovery is not None and "pid" in auth:
            restored = self._restore(client, packet, size, name, auth)
            if restored is _DEFERRED:
                return
            # the pid is a secret: keep it out of the handlers' auth and fetch_sockets' handshake
            auth = {k: v for k, v in auth.items() if k != "pid" and k != "offset"}
            if restored is not None and restored.sid in self._sockets:
                restored = None
        sid = restored.sid if restored is not None else self._new_sid()
        sock = Socket(sid, client, name, registry.route(name, primary), auth)
        client.sockets[name] = sock
        self._sockets[sid] = sock
        if client.connect_timer is not None:
            client.connect_timer.cancel()
            client.connect_timer = None
        # joined to its own room now, so the connect chain and handler can use rooms
        self.manager.connect(name, sid, client.eio_sid)
        if self._recovery is not None:
            self._start_session(sock, restored)
        if self.async_handlers:
            self._queue(sock, (CONNECT, None))
        else:
            self._do_connect(sock)

    def _send_connect_error(self, client: Client, name: str, payload: Dict[str, Any]) -> None:
        for message in self._encode(_Packet(_P_CONNECT_ERROR, name, payload)):
            self._eio_send(client.eio_sid, message)

    def _new_sid(self) -> str:
        sockets = self._sockets
        while True:
            sid = secrets.token_urlsafe(15)
            if sid not in sockets:
                return sid

    # ------------------------------------------------------- state recovery
    def _restore(self, client: Client, packet: Any, size: int, name: str, auth: Dict[str, Any]) -> Any:
        """The session a CONNECT's ``pid``/``offset`` asks for: a RecoveredSession, None or _DEFERRED.

        The pid proves the session. If its previous socket has not closed yet
        (the server has not noticed that the old connection died: ping-timeout
        race, socketio/socket.io#4880), the old connection is closed as lost
        and this CONNECT is handled again once that socket has closed, so the
        app sees ``disconnect`` before the recovered ``connect`` and the sid is
        never used twice.
        """
        pid = auth.get("pid")
        if not isinstance(pid, str) or not 0 < len(pid) <= 64:
            return None
        offset = auth.get("offset")
        if not isinstance(offset, str):
            offset = None  # nothing received yet (socketio/socket.io#5538): replay from the connection
        previous = self._pids.get(pid)
        if previous is not None:
            if previous.namespace != name or previous.client is client:
                return None
            if previous.state <= _CONNECTED and not previous.client.closing:
                self._close_client(previous.client, reason.TRANSPORT_CLOSE, "transport close")
            if previous.state != _CLOSED:
                self._deferred[previous] = (client, packet, size)
                return _DEFERRED
        try:
            return self.manager.restore_session(name, pid, offset)
        except Exception as exc:
            self.logger.error("restoring a session failed (namespace %s)", name, exc_info=exc)
            return None

    def _start_session(self, sock: Socket, restored: Optional[RecoveredSession]) -> None:
        """Give a new socket its pid, or its previous session's rooms, data and missed packets."""
        if restored is None:
            sock.pid = secrets.token_urlsafe(18)  # 144 random bits
        else:
            sock.pid = restored.pid
            sock.recovered = True
            sock.session = restored.data
            sid = sock.sid
            for room in restored.rooms:
                if room != sid:
                    try:
                        self.manager.enter_room(sock.namespace, sid, room)
                    except ValueError:
                        pass  # meanwhile the sid room of another socket: never shared
            # sent right after the CONNECT ack, before anything emitted meanwhile
            held = [(self._encode(p), False, None) for p in restored.missed]
            sock.held[:0] = held
            if self._log:
                self.logger.info("socket %s recovered (%d missed packets)", sid, len(held))
        self._pids[sock.pid] = sock

    def _end_session(self, sock: Socket) -> None:
        """A socket closes: keep its session if the connection was lost (before its rooms go)."""
        pid = sock.pid
        if pid is None:
            return
        if self._pids.get(pid) is sock:
            del self._pids[pid]
        if sock.connected_at > 0 and sock.close_reason in _RECOVERABLE:
            try:
                self.manager.persist_session(sock.namespace, sock.sid, pid, sock.session)
            except Exception as exc:
                self.logger.error("persisting the session of %s failed", sock.sid, exc_info=exc)

    def _resume_deferred(self, sock: Socket) -> None:
        """The previous socket of a session closed: handle the CONNECT that waited for it."""
        waiting = self._deferred.pop(sock, None)
        if waiting is None:
            return
        client, packet, size = waiting
        if not client.closing and self._clients.get(client.eio_sid) is client:
            self._on_connect_packet(client, packet, size)

    def is_recovered(self, sid: str, namespace: Optional[str] = None) -> bool:
        """Whether the client's connection took over its previous session.

        True when connection-state recovery restored the sid, the rooms, the
        session data and replayed the missed events (Node's ``socket.recovered``).
        Usable in the connect handler. False for an unknown sid.
        """
        sock = self._sockets.get(sid)
        return sock is not None and sock.recovered and (namespace is None or sock.namespace == namespace)

    def _do_connect(self, sock: Socket) -> None:
        if sock.state != _CONNECTING:
            self._finalize(sock)
            return
        environ = sock.client.environ
        route = sock.route
        sid = sock.sid
        middlewares = route.connect_mw
        if sock.recovered and self._recovery is not None and self._recovery.skip_middlewares:
            middlewares = []  # Node's skipMiddlewares: the connect handler still runs
        try:
            for mw in middlewares:
                if mw(sid, environ, sock.auth) is False:
                    raise ConnectionRefusedError()
                if sock.state != _CONNECTING:
                    self._finalize(sock)
                    return
            if self.always_connect:
                self._accept(sock)
            call = route.connect_call(sid, environ, sock.auth)
            if call is not None:
                fn, args = call
                if self._call(sock, "connect", fn, args) is False:
                    raise ConnectionRefusedError()
        except ConnectionRefusedError as exc:
            self._refuse(sock, exc.error_args())
            return
        except Exception as exc:
            self._handler_error(sock, "connect", exc)
            self._refuse(sock, {"message": "Connection rejected by server"})
            return
        sock.handler_accepted = True
        if self.always_connect:
            # already acked: a leave during the handler queued a DISCONNECT item
            return
        if sock.state != _CONNECTING:
            self._after_lost_during_connect(sock)
            return
        self._accept(sock)

    def _accept(self, sock: Socket) -> None:
        sock.state = _CONNECTED
        sock.connected_at = time.time()
        eio_sid = sock.eio_sid
        answer = {"sid": sock.sid} if sock.pid is None else {"sid": sock.sid, "pid": sock.pid}
        for message in self._encode(_Packet(_P_CONNECT, sock.namespace, answer)):
            self._eio_send(eio_sid, message)
        held = sock.held
        if held:
            sock.held = []
            for messages, volatile, compress in held:
                self._write(sock, messages, volatile, compress)
        if self._observers:
            self._observe("socket_connected", sock)

    def _after_lost_during_connect(self, sock: Socket) -> None:
        """The client left while the connect handler ran; it accepted, so pair it with disconnect."""
        self._run_disconnect_handler(sock, sock.close_reason or reason.TRANSPORT_CLOSE)
        self._finalize(sock)

    def _refuse(self, sock: Socket, payload: Dict[str, Any]) -> None:
        client = sock.client
        was_connected = sock.state == _CONNECTED  # always_connect: already acked
        if sock.state in (_CONNECTING, _CONNECTED) and not client.closing:
            if was_connected:
                self._send_packet_now(sock, _Packet(_P_DISCONNECT, sock.namespace))
            else:
                self._send_connect_error(client, sock.namespace, payload)
        sock.held = []
        self._detach(sock, reason.SERVER_DISCONNECT)
        self._finalize(sock)

    # ---------------------------------------------------------------- workers
    def _queue(self, sock: Socket, item: Tuple[int, Any]) -> None:
        """Hand a control item to the socket's worker: start one, or wake the one that lingers.

        Inbox items are ``(CONNECT, None)`` and ``(DISCONNECT, reason)`` tuples, or
        the EVENT packets themselves (:meth:`_on_eio_message` queues those inline).
        """
        inbox = sock.inbox
        if type(inbox) is not deque:
            inbox = sock.inbox = deque()
        inbox.append(item)
        if sock.worker is None:
            self._start_worker(sock)
        else:
            parked = sock.parked
            if parked is not None:
                sock.parked = None
                parked.wake()

    def _start_worker(self, sock: Socket) -> None:
        worker = self.runtime.spawn(self._work, sock)
        sock.worker = worker
        self._workers.add(worker)

    def _work(self, sock: Socket) -> None:
        """Drain the inbox in order; then linger a while for the next item before ending.

        A busy connection keeps one worker, woken per event (a loop callback and a
        switch), instead of a new greenlet per event; an idle one keeps none.
        """
        inbox = sock.inbox
        linger = _WORKER_LINGER
        parking = self.runtime.Parking()  # one per worker: a Parking can be waited on again once woken
        turn = _WORKER_TURN
        try:
            while True:
                while inbox:
                    item = inbox.popleft()
                    if type(item) is not tuple:
                        if not self._draining:
                            self._handle_event(sock, item)
                    elif item[0] == BIG_EVENT:
                        sock.queued_bytes -= item[2]
                        if not self._draining:
                            self._handle_event(sock, item[1])
                    elif item[0] == CONNECT:
                        self._do_connect(sock)
                    else:
                        self._do_disconnect(sock, item[1])
                    if sock.reader_parked is not None:
                        self._release_reader(sock, False)
                    turn -= 1
                    if not turn:
                        # A long inbox is worked through in turns: other connections, their
                        # handlers and the heartbeat timers get the loop in between.
                        turn = _WORKER_TURN
                        self.runtime.sleep(0)
                if self._draining or sock.state == _CLOSED:
                    break
                sock.parked = parking
                if not parking.wait(linger) and not inbox:
                    break
        finally:
            sock.parked = None
            if not inbox:
                sock.inbox = ()
            self._workers.discard(sock.worker)
            sock.worker = None
            if sock.reader_parked is not None:
                self._release_reader(sock, True)

    def _hold_reader(self, sock: Socket) -> None:
        """Stop reading from this client until the socket's worker has caught up.

        Runs in the greenlet that delivered the event (the WebSocket reader, or a
        polling POST): while it waits, nothing more is read from the client, so
        TCP flow control holds what the client still sends (``max_queued_events``).
        Acks and PONGs behind that data wait too: the client is counted alive
        meanwhile, and an ack a handler waits for may arrive late (``call()``
        timeouts still apply).
        """
        rt = self.runtime
        if rt.getcurrent() is sock.worker:
            return
        parking = sock.reader_parked = rt.Parking()
        eio_sid = sock.eio_sid
        step = max(0.05, min(1.0, self.eio.config.ping_timeout / 2))
        try:
            while sock.reader_parked is parking and sock.state != _CLOSED and not sock.client.closing:
                self.eio.heard_from(eio_sid)
                parking.wait(step)
        finally:
            if sock.reader_parked is parking:
                sock.reader_parked = None

    def _release_reader(self, sock: Socket, always: bool) -> None:
        """Let a held reader go on once the inbox is down to half of both bounds."""
        inbox = sock.inbox
        if always or (len(inbox) <= self.max_queued_events // 2
                      and sock.queued_bytes <= self.max_queued_bytes // 2):
            parked = sock.reader_parked
            sock.reader_parked = None
            parked.wake()

    def _wake_parked(self) -> None:
        """Wake every lingering worker (shutdown: they end once their inbox is empty)."""
        for sock in list(self._sockets.values()):
            parked = sock.parked
            if parked is not None:
                sock.parked = None
                parked.wake()

    def _call(self, sock: Socket, event: str, fn: Callable[..., Any], args: tuple) -> Any:
        """Run one handler with the around/after hooks; exceptions propagate."""
        if not self._hooked:
            return fn(*args)
        info = HandlerInfo(sock.sid, sock.namespace, event, args)

        def innermost() -> Any:
            return fn(*args)

        call: Callable[[], Any] = innermost
        for hook in reversed(self._around):
            call = (lambda h, nxt: (lambda: h(nxt, info)))(hook, call)
        error: Optional[BaseException] = None
        try:
            return call()
        except BaseException as exc:
            error = exc
            raise
        finally:
            for after in self._after:
                try:
                    after(info, error)
                except Exception as exc:
                    self.logger.error("error in an after_event hook (event %r, sid %s)", event, sock.sid,
                                      exc_info=exc)

    def _handler_error(self, sock: Socket, event: str, exc: BaseException) -> None:
        self.logger.error("error in handler for %r (sid %s, namespace %s)", event, sock.sid, sock.namespace,
                          exc_info=exc)

    def _handle_event(self, sock: Socket, packet: Any) -> None:
        data = packet.data
        event = data[0]
        route = sock.route
        if route.gen != self._registry.gen:
            route = sock.route = self._registry.refresh(route)
        direct = route.direct
        fn = direct.get(event) if direct is not None else None
        if fn is not None and not route.event_mw and not self._observers and not self._hooked:
            # The common case: a handler of a static namespace, and no middleware, hooks or observers.
            try:
                result = fn(sock.sid, *data[1:])
            except Exception as exc:
                self._handler_error(sock, event, exc)
                return
        else:
            args = data[1:]
            if self._observers:
                self._observe("event_received", sock, event, args)
            if route.event_mw:
                for mw in route.event_mw:
                    try:
                        changed = mw(sock.sid, event, args)
                    except Exception as exc:
                        self._handler_error(sock, event, exc)
                        return
                    if changed is False:
                        return
                    if changed is not None:
                        args = list(changed)
            call = route.event_call(event, sock.sid, args)
            if call is None:
                if self._log:
                    self.logger.info("no handler for event %r in namespace %s", event, sock.namespace)
                return
            try:
                result = self._call(sock, event, call[0], call[1])
            except Exception as exc:
                self._handler_error(sock, event, exc)
                return
        ack_id = packet.id
        if ack_id is not None:
            if result is None:
                ack: List[Any] = []
            elif isinstance(result, tuple):
                ack = list(result)
            else:
                ack = [result]
            self._write(sock, self._encode_ack(sock.namespace, ack, ack_id), False, None)

    # -------------------------------------------------------------- disconnect
    def _leave(self, sock: Socket, why: str, *, notify: bool) -> None:
        """A socket leaves its namespace; its disconnect handler runs on its worker."""
        state = sock.state
        if state >= _DISCONNECTING:
            return
        if notify and state == _CONNECTED:
            self._send_packet_now(sock, _Packet(_P_DISCONNECT, sock.namespace))
        self._detach(sock, why)
        if state == _CONNECTED:
            if self.async_handlers:
                self._queue(sock, (DISCONNECT, why))
            else:
                self._do_disconnect(sock, why)
        # CONNECTING: the connect procedure notices the state and cleans up

    def _detach(self, sock: Socket, why: str) -> None:
        """Stop all traffic to a socket and fail what waits for it; rooms stay readable."""
        sock.state = _DISCONNECTING
        sock.close_reason = why
        client = sock.client
        if client.sockets.get(sock.namespace) is sock:
            del client.sockets[sock.namespace]
            if not client.sockets and not client.closing and client.connect_timer is None:
                # an idle Engine.IO session must join a namespace again in time
                client.connect_timer = self.runtime.call_later(self.connect_timeout, self._connect_expired,
                                                               client)
        self._fail_acks(sock)

    def _fail_acks(self, sock: Socket) -> None:
        acks = sock.acks
        if acks:
            entries = list(acks.values())
            acks.clear()
            error = DisconnectedError("the client disconnected before acknowledging")
            for entry in entries:
                entry.fail(error)

    def _do_disconnect(self, sock: Socket, why: str) -> None:
        if sock.state == _CLOSED:
            return
        self._run_disconnect_handler(sock, why)
        self._finalize(sock)

    def _run_disconnect_handler(self, sock: Socket, why: str) -> None:
        route = sock.route
        if route.gen != self._registry.gen:
            route = sock.route = self._registry.refresh(route)
        call = route.disconnect_call(sock.sid, why)
        if call is not None:
            try:
                self._call(sock, "disconnect", call[0], call[1])
            except Exception as exc:
                self._handler_error(sock, "disconnect", exc)

    def _finalize(self, sock: Socket) -> None:
        if sock.state == _CLOSED:
            return
        was_accepted = sock.handler_accepted or sock.connected_at > 0
        sock.state = _CLOSED
        sock.held = []
        self._fail_acks(sock)
        client = sock.client
        if client.sockets.get(sock.namespace) is sock:
            del client.sockets[sock.namespace]
        recovery = self._recovery
        if recovery is not None:
            self._end_session(sock)
        self.manager.disconnect(sock.namespace, sock.sid)
        self._sockets.pop(sock.sid, None)
        if self._observers and was_accepted and sock.connected_at > 0:
            self._observe("socket_disconnected", sock, sock.close_reason or reason.SERVER_DISCONNECT)
        if recovery is not None and self._deferred:
            self._resume_deferred(sock)

    # ---------------------------------------------------------------- sending
    def _eio_send(self, eio_sid: str, message: Union[str, bytes]) -> None:
        if isinstance(message, str):
            self.eio.send(eio_sid, message)
        else:
            self.eio.send_prepared(eio_sid, self.eio.prepare((message,)))

    def _send_packet(self, sock: Socket, packet: Any, volatile: bool = False,
                     compress: Optional[bool] = None) -> None:
        self._write(sock, self._encode(packet), volatile, compress)

    def _send_packet_now(self, sock: Socket, packet: Any) -> None:
        """Send regardless of the socket's state (DISCONNECT packets)."""
        messages = self._encode(packet)
        if len(messages) == 1:
            self._eio_send(sock.eio_sid, messages[0])
        else:
            self.eio.send_prepared(sock.eio_sid, self.eio.prepare(messages))

    def _write(self, sock: Socket, messages: List[Any], volatile: bool, compress: Optional[bool]) -> None:
        state = sock.state
        if state is _CONNECTED:
            if self._observers:
                self._observe("packet_out", sum(len(m) for m in messages))
            if len(messages) == 1 and not volatile and compress is None and type(messages[0]) is str:
                self.eio.send(sock.eio_sid, messages[0])
            else:
                prepared = self.eio.prepare(messages, compress=compress is not False)
                self.eio.send_prepared(sock.eio_sid, prepared, volatile=volatile)
        elif state == _CONNECTING:
            sock.held.append((messages, volatile, compress))

    def _notify_outgoing(self, sid: str, namespace: str, event: str, args: List[Any]) -> None:
        for hook in self._outgoing:
            try:
                hook(sid, namespace, event, args)
            except Exception as exc:
                self.logger.error("error in an outgoing hook (event %r, sid %s)", event, sid, exc_info=exc)

    def _next_ack_id(self) -> int:
        self._ack_id += 1
        return self._ack_id

    # -- adapter entry points (local delivery) --------------------------------
    def _deliver(self, packet: Any, sids: List[str], opts: BroadcastOptions) -> int:
        """Send one packet to local sockets: encode once, prepare once, one write each."""
        if not sids:
            return 0
        sockets = self._sockets
        outgoing = self._outgoing
        event = packet.data[0] if outgoing else None
        if len(sids) == 1:
            sock = sockets.get(sids[0])
            if sock is None or sock.state >= _DISCONNECTING:
                return 0
            if outgoing:
                self._notify_outgoing(sock.sid, sock.namespace, event, packet.data[1:])
            self._send_packet(sock, packet, opts.volatile, opts.compress)
            return 1
        messages = self._encode(packet)
        prepared = None
        volatile = opts.volatile
        count = 0
        send_prepared = self.eio.send_prepared
        for sid in sids:
            sock = sockets.get(sid)
            if sock is None:
                continue
            state = sock.state
            if state == _CONNECTED:
                if prepared is None:
                    prepared = self.eio.prepare(messages, compress=opts.compress is not False)
                if outgoing:
                    self._notify_outgoing(sid, sock.namespace, event, packet.data[1:])
                send_prepared(sock.eio_sid, prepared, volatile=volatile)
                count += 1
            elif state == _CONNECTING:
                if outgoing:
                    self._notify_outgoing(sid, sock.namespace, event, packet.data[1:])
                sock.held.append((messages, volatile, opts.compress))
                count += 1
        if self._observers and count:
            self._observe("packet_out", count * sum(len(m) for m in messages))
        return count

    def _deliver_with_ack(self, packet: Any, sids: List[str], opts: BroadcastOptions,
                          collector: BroadcastAckCollector) -> int:
        sockets = self._sockets
        reached: List[str] = []
        for sid in sids:
            sock = sockets.get(sid)
            if sock is None or sock.state >= _DISCONNECTING:
                continue
            collector.register(sid, sock.acks)
            reached.append(sid)
        return self._deliver(packet, reached, opts)

    def _local_disconnect(self, sid: str, close: bool) -> None:
        sock = self._sockets.get(sid)
        if sock is None:
            return
        if not close:
            self._leave(sock, reason.SERVER_DISCONNECT, notify=True)
            return
        client = sock.client
        for other in list(client.sockets.values()):
            self._leave(other, reason.SERVER_DISCONNECT, notify=True)
        self._close_client(client, reason.FORCED_CLOSE, "server disconnect")

    def _local_details(self, sid: str) -> Optional[SocketDetails]:
        sock = self._sockets.get(sid)
        if sock is None or sock.state != _CONNECTED:
            return None
        return SocketDetails(
            id=sid,
            namespace=sock.namespace,
            rooms=self.manager.get_rooms(sock.namespace, sid),
            data=sock.session,
            handshake=_handshake(sock.client.environ, sock.auth, sock.client.connected_at),
        )

    def _handle_server_side_emit(self, namespace: str, event: str, args: List[Any]) -> Any:
        """An event another server sent with ``server_side_emit``; returns the reply."""
        handler = self._server_handlers.get((namespace, event))
        if handler is None:
            return None
        return handler(*args)

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
                    # _emit_to_socket's common case, inline
                    if data is None:
                        payload = [event]
                    elif isinstance(data, tuple):
                        payload = [event, *data]
                    else:
                        payload = [event, data]
                    self._write(sock, self._encode_event(ns, payload, None), volatile, compress)
                    return
                self._emit_to_socket(sock, event, _args_of(data), callback, timeout, volatile, compress)
                return
        args = _args_of(data)
        opts = BroadcastOptions.build(target, skip_sid, volatile=volatile, compress=compress, local=ignore_queue)
        self._broadcast(ns, event, args, opts, callback, timeout)

    def send(self, data: Data, to: Target = None, room: Target = None, skip_sid: Target = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False, **kwargs: Any) -> None:
        """Emit a ``'message'`` event (python-socketio's ``send``)."""
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                  callback=callback, ignore_queue=ignore_queue, **kwargs)

    def _emit_to_socket(self, sock: Socket, event: str, args: List[Any], callback: Optional[Callable[..., Any]],
                        timeout: Optional[float], volatile: bool, compress: Optional[bool]) -> None:
        if self._recovery is not None and callback is None and not volatile:
            # through the adapter, like Node's socket.emit with recovery on: stored with an offset,
            # also while the socket is leaving (it may come back for it)
            ns = sock.namespace
            self.manager.broadcast(ns, _Packet(_P_EVENT, ns, [event, *args]),
                                   BroadcastOptions(frozenset((sock.sid,)), compress=compress))
            return
        if sock.state >= _DISCONNECTING:
            if callback is not None and timeout is not None:
                self._spawn_callback(callback, DisconnectedError("the client is gone"))
            return
        if self._outgoing:
            self._notify_outgoing(sock.sid, sock.namespace, event, args)
        ack_id = None
        if callback is not None:
            ack_id = self._next_ack_id()
            entry = CallbackEntry(callback, timeout is not None, self._spawn_task, self._callback_error)
            entry.table = sock.acks
            entry.ack_id = ack_id
            if timeout is not None:
                entry.timer = self.runtime.call_later(timeout, entry.expire)
            sock.acks[ack_id] = entry
        self._write(sock, self._encode_event(sock.namespace, [event, *args], ack_id), volatile, compress)

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

    def _broadcast(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                   callback: Optional[Callable[[BroadcastAckResult], Any]] = None,
                   timeout: Optional[float] = None) -> None:
        if not isinstance(event, str) or event in sioproto.RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved or invalid event name")
        if callback is None:
            self.manager.broadcast(namespace, _Packet(_P_EVENT, namespace, [event, *args]), opts)
            return

        def done(result: BroadcastAckResult) -> None:
            self._spawn_callback(callback, result)

        self._start_collector(namespace, event, args, opts, timeout, done)

    def _start_collector(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                         timeout: Optional[float],
                         on_done: Callable[[BroadcastAckResult], None]) -> BroadcastAckCollector:
        ack_id = self._next_ack_id()
        servers = 1 if opts.local else self.manager.server_count()
        def finished(result: BroadcastAckResult) -> None:
            self._collectors.discard(collector)
            on_done(result)

        collector = BroadcastAckCollector(ack_id, servers, finished)
        self._collectors.add(collector)
        if timeout is not None:
            collector.timer = self.runtime.call_later(timeout, collector.expire)
        self.manager.broadcast_with_ack(namespace, _Packet(_P_EVENT, namespace, [event, *args], ack_id), opts,
                                        collector)
        return collector

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
        args = _args_of(data)
        if type(target) is str and skip_sid is None:
            sock = self._sockets.get(target)
            if sock is not None and sock.namespace == ns:
                return self._call_socket(sock, event, args, timeout)
        opts = BroadcastOptions.build(target, skip_sid, local=ignore_queue)
        result = self.call_broadcast(ns, event, args, opts, timeout)
        if type(target) is str and len(result) == 0:
            raise DisconnectedError(f"no connected client matches {target!r}")
        return result

    def call_broadcast(self, namespace: str, event: str, args: List[Any], opts: BroadcastOptions,
                       timeout: Optional[float]) -> BroadcastAckResult:
        """Broadcast with acks and wait for the per-sid result (used by :class:`BroadcastOperator`)."""
        waiter = self.runtime.AsyncResult()

        self._start_collector(namespace, event, args, opts, timeout, waiter.set)
        return waiter.get()  # type: ignore[no-any-return]

    def _call_socket(self, sock: Socket, event: str, args: List[Any], timeout: Optional[float]) -> Any:
        if sock.state >= _DISCONNECTING:
            raise DisconnectedError("the client is gone")
        if sock.state == _CONNECTING and sock.worker is not None and sock.worker is self.runtime.getcurrent():
            raise RuntimeError("call() to a socket from its own connect handler would deadlock: "
                               "the client answers only after the connection is accepted")
        if self._outgoing:
            self._notify_outgoing(sock.sid, sock.namespace, event, args)
        ack_id = self._next_ack_id()
        waiter = CallWaiter(self.runtime)
        sock.acks[ack_id] = waiter
        try:
            self._write(sock, self._encode_event(sock.namespace, [event, *args], ack_id), False, None)
            waiter.result.wait(timeout)
            if not waiter.result.ready():
                raise TimeoutError(f"no acknowledgement for {event!r} within {timeout} s")
            return ack_value(waiter.result.get())
        finally:
            sock.acks.pop(ack_id, None)

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
        self.manager.server_side_emit(namespace or "/", event, _args_of(data), callback, timeout)

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
            self._leave(sock, reason.SERVER_DISCONNECT, notify=True)
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
                   server_stats_interval: float = 2) -> Any:
        """Let the official ``@socket.io/admin-ui`` dashboard watch this server.

        ``auth``: False (no authentication), a dict ``{"username": ..., "password": ...}``,
        a list of such dicts, or ``callable(auth) -> bool``. Returns the instrumentation.
        """
        from .admin import Instrumentation

        return Instrumentation(self, auth=auth, mode=mode, read_only=read_only, server_id=server_id,
                               namespace=namespace, server_stats_interval=server_stats_interval)

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
            self._fail_acks(sock)
        for collector in list(self._collectors):
            collector.cancel(error)
        # 2. running handlers finish (queued events are dropped) until the deadline
        self._draining = True
        self._wake_parked()
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
                self._detach(sock, reason.SERVER_SHUTTING_DOWN)
            self._finalize(sock)
        # 5. background tasks (admin stats, ack callbacks, user tasks) end with the server
        self._kill(self._tasks)
        self.manager.close()

    def _kill(self, greenlets: Set[Any]) -> None:
        alive = [g for g in greenlets if not g.dead]
        if alive:
            self.runtime.killall(alive, block=True, timeout=1.0)
        greenlets.clear()


class _AdapterHost:
    """The server as its adapter sees it: :class:`~siothread.adapters.base.AdapterHost`.

    Bound methods, not wrappers, so a broadcast costs no extra call.
    """

    __slots__ = ("runtime", "deliver", "deliver_with_ack", "local_details", "local_disconnect",
                 "handle_server_side_emit")

    def __init__(self, server: "Server") -> None:
        self.runtime = server.runtime
        self.deliver = server._deliver
        self.deliver_with_ack = server._deliver_with_ack
        self.local_details = server._local_details
        self.local_disconnect = server._local_disconnect
        self.handle_server_side_emit = server._handle_server_side_emit
