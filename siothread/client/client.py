"""The synchronous Socket.IO v5 client (python-socketio's ``socketio.Client`` API).

One :class:`Client` owns one Engine.IO session at a time (:mod:`.engine`) and
multiplexes its namespaces over it, like socket.io-client's ``Manager``. Threads:

- the engine's reader decodes packets and resolves acknowledgements waited on
  by :meth:`Client.call` at once, so a handler may itself ``call()``;
- one dispatcher thread runs the application's handlers, one at a time, in the
  order the packets arrived (``connect`` before the events that follow it);
- a reconnection thread exists only while reconnecting.

Connection-state recovery (socket.io-client ``socket.ts``): when the server's
CONNECT answer carries a ``pid``, the client remembers it and the offset of the
last event received, sends both back in the CONNECT auth of the next
connection, and reports through :attr:`Client.recovered` whether the server
restored the session. A recovery-enabled server appends the offset as the
last argument of each event it may replay; the client records it and removes
it before calling the handler.
"""
from __future__ import annotations

import inspect
import itertools
import logging
import queue
import re
import signal
import threading
import time
import weakref
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import BadNamespaceError, ConnectionError, DisconnectedError, RemoteProtocolError, TimeoutError
from ._backoff import Backoff
from .namespace import ClientNamespace
from .engine import DEFAULT_MAX_PAYLOAD, DEFAULT_REQUEST_TIMEOUT, EngineClient, Message

__all__ = ["Client"]

Handler = Callable[..., Any]

# Events of the client itself: never handed to a catch-all handler.
_LIFECYCLE_EVENTS = frozenset(["connect", "connect_error", "disconnect"])


class _Reason:
    """Disconnect reasons passed to ``disconnect`` handlers (python-socketio ``Client.reason``)."""

    #: :meth:`Client.disconnect` was called
    CLIENT_DISCONNECT = "client disconnect"
    #: the server disconnected the namespace (no reconnection follows)
    SERVER_DISCONNECT = "server disconnect"
    #: the server closed the connection
    TRANSPORT_CLOSE = "transport close"
    #: the connection failed
    TRANSPORT_ERROR = "transport error"
    #: no PING from the server within pingInterval + pingTimeout
    PING_TIMEOUT = "ping timeout"
    #: the server sent something the protocol forbids
    PARSE_ERROR = "parse error"


# --- SIGINT handling (python-socketio / python-engineio ``signal_handler``) ------------

_live_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()
_original_sigint: Any = None
_sigint_installed = False


def _sigint_handler(signum: int, frame: Optional[FrameType]) -> Any:
    for client in list(_live_clients):
        try:
            client.disconnect()
        except Exception:  # pragma: no cover - best effort while the program exits
            pass
    if callable(_original_sigint):
        return _original_sigint(signum, frame)
    if _original_sigint == signal.SIG_IGN:
        return None
    raise KeyboardInterrupt


def _install_sigint_handler() -> None:
    global _original_sigint, _sigint_installed
    # signal.signal works only in the main thread; elsewhere the program's own
    # handling stays in charge (python-socketio does the same).
    if _sigint_installed or threading.current_thread() is not threading.main_thread():
        return
    _original_sigint = signal.signal(signal.SIGINT, _sigint_handler)
    _sigint_installed = True


# --- codec selection ------------------------------------------------------------------

def _codec(serializer: str, json_module: Any,
           max_payload: int) -> Tuple[Any, Callable[[], Any], Callable[..., List[Message]]]:
    """``(socketio module, decoder factory, encode)`` for a serializer name."""
    from ..protocol import socketio as sio_codec

    if serializer == "msgpack":
        from ..protocol import msgpack_codec as codec
    elif serializer == "default":
        codec = sio_codec
    else:
        raise ValueError("serializer must be 'default' or 'msgpack'")
    loads = getattr(json_module, "loads", None) if json_module is not None else None
    dumps = getattr(json_module, "dumps", None) if json_module is not None else None
    if serializer == "msgpack":
        loads = dumps = None

    # A server's binary arguments may be as large as any message we accept.
    limits = sio_codec.Limits(max_attachment_bytes=max_payload)

    def new_decoder() -> Any:
        if loads is not None:
            return codec.Decoder(limits, role="client", loads=loads)
        return codec.Decoder(limits, role="client")

    def encode(packet: Any) -> List[Message]:
        if dumps is not None:
            return list(codec.encode(packet, dumps=dumps))
        return list(codec.encode(packet))

    return sio_codec, new_decoder, encode


# --- per-namespace and per-ack state ----------------------------------------------------

class _Namespace:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sid: Optional[str] = None
        self.pid: Optional[str] = None
        self.offset: Optional[str] = None
        self.recovered = False
        self.connected = False
        # Events that arrive before the CONNECT answer (Node replays missed
        # packets first) wait here, like socket.io-client's receiveBuffer.
        self.buffer: List[Tuple[str, List[Any], Optional[int]]] = []
        self.answered = threading.Event()
        self.error: Optional[Tuple[str, Any]] = None


class _Ack:
    __slots__ = ("namespace", "callback", "event", "result", "disconnected")

    def __init__(self, namespace: str, callback: Optional[Handler]) -> None:
        self.namespace = namespace
        self.callback = callback
        self.event = threading.Event()
        self.result: List[Any] = []
        self.disconnected = False


class _Refused(ConnectionError):
    """A namespace answered CONNECT_ERROR (the server refused: no retry on the first connect)."""


def _accepts_positional(fn: Handler, count: int) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        sig.bind(*([None] * count))
    except TypeError:
        return False
    return True


def _make_logger(logger: Union[bool, logging.Logger], name: str = "siothread.client") -> logging.Logger:
    if isinstance(logger, logging.Logger):
        return logger
    log = logging.getLogger(name)
    if logger:
        log.setLevel(logging.INFO)
        if not log.hasHandlers():
            log.addHandler(logging.StreamHandler())
    return log


_NAMESPACE_RE = re.compile(r"^/[^,]*$")


# --- the client -------------------------------------------------------------------------

class Client:
    """A Socket.IO client for scripts, tests and workers.

    Args:
        reconnection: reconnect after the connection is lost (not after
            :meth:`disconnect` nor after the server disconnected every namespace).
        reconnection_attempts: give up after this many failed attempts; 0 = never.
        reconnection_delay: seconds before the first attempt; doubles each attempt.
        reconnection_delay_max: upper bound of the delay.
        randomization_factor: jitter in ``[0, 1]`` applied to each delay.
        logger: ``True`` logs at INFO to stderr, ``False`` leaves logging as
            configured, or a :class:`logging.Logger` to use.
        serializer: ``'default'`` (JSON with binary attachments) or ``'msgpack'``
            (socket.io-msgpack-parser).
        json: a module with ``dumps``/``loads`` to use instead of :mod:`json`.
        ssl_verify: verify TLS certificates (default); ``False`` opts out; a path
            names a CA bundle to trust.
        handle_sigint: on Ctrl+C disconnect every client, then run the previous
            SIGINT handler; only installed when created in the main thread.
        request_timeout: seconds for each HTTP request and connection attempt.
        http_session: a ``requests.Session`` for long-polling (proxies, cookies, certs).
        websocket_extra_options: keyword arguments for ``websocket.WebSocket.connect``.
        max_payload: the largest response body or WebSocket message accepted.
        engineio_logger: the Engine.IO layer's logger (``siothread.client.engine``):
            ``True``, ``False`` or a :class:`logging.Logger`, as ``logger``; by
            default the Engine.IO layer logs through ``logger``.
        timestamp_requests: accepted for python-socketio compatibility; every
            polling response carries ``Cache-Control: no-store``, so no cache-busting
            query parameter is needed.

    Raises:
        TypeError: an unknown keyword argument.
        ValueError: an invalid option value.
    """

    reason = _Reason

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: Union[bool, logging.Logger] = False,
        serializer: str = "default",
        json: Any = None,
        ssl_verify: Union[bool, str] = True,
        handle_sigint: bool = True,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        http_session: Any = None,
        websocket_extra_options: Optional[Dict[str, Any]] = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        engineio_logger: Union[None, bool, logging.Logger] = None,
        timestamp_requests: bool = True,
    ) -> None:
        if reconnection_attempts < 0:
            raise ValueError("reconnection_attempts must be >= 0")
        Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)  # validates
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.reconnection_delay = reconnection_delay
        self.reconnection_delay_max = reconnection_delay_max
        self.randomization_factor = randomization_factor
        self.logger = _make_logger(logger)
        self.engineio_logger = (self.logger if engineio_logger is None
                                else _make_logger(engineio_logger, "siothread.client.engine"))
        self._codec, self._new_decoder, self._encode = _codec(serializer, json, max_payload)
        self.ssl_verify = ssl_verify
        self.request_timeout = request_timeout
        self.http_session = http_session
        self.websocket_extra_options = websocket_extra_options
        self.max_payload = max_payload

        self.handlers: Dict[str, Dict[str, Handler]] = {}
        #: class-based namespaces by name (:meth:`register_namespace`)
        self.namespace_handlers: Dict[str, ClientNamespace] = {}
        self.connection_url: Optional[str] = None
        self.connection_headers: Dict[str, str] = {}
        self.connection_auth: Any = None
        self.connection_transports: List[str] = ["polling", "websocket"]
        self.connection_namespaces: List[str] = ["/"]
        self.socketio_path = "socket.io"
        self.wait_timeout: float = 5

        self._lock = threading.RLock()
        self._namespaces: Dict[str, _Namespace] = {}
        self._acks: Dict[int, _Ack] = {}
        self._ack_ids = itertools.count(0)
        self._engine: Optional[EngineClient] = None
        self._dispatch_queue: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self._dispatcher: Optional[threading.Thread] = None
        self._stopped_dispatchers: List[threading.Thread] = []
        self._reconnector: Optional[threading.Thread] = None
        self._stop_reconnect = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._disconnect_requested = False
        self.connected = False
        if handle_sigint:
            _install_sigint_handler()

    # --- handlers --------------------------------------------------------------------

    def on(self, event: str, handler: Optional[Handler] = None,
           namespace: Optional[str] = None) -> Any:
        """Register ``handler`` for ``event`` (decorator when ``handler`` is omitted).

        ``event='*'`` catches every event without its own handler, called as
        ``handler(event, *args)``; ``namespace='*'`` catches every namespace, the
        namespace then coming before the arguments. ``connect()``,
        ``connect_error(data)`` and ``disconnect(reason)`` are the lifecycle events.
        The return value of an event handler is sent as the acknowledgement when
        the server asked for one (a tuple sends several arguments).
        """
        ns = namespace or "/"

        def register(fn: Handler) -> Handler:
            self.handlers.setdefault(ns, {})[event] = fn
            return fn

        if handler is None:
            return register
        register(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a handler named after the function (``@client.event``)."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def decorator(fn: Handler) -> Handler:
            return self.on(fn.__name__, *args, **kwargs)(fn)  # type: ignore[no-any-return]

        return decorator

    def register_namespace(self, namespace_handler: ClientNamespace) -> None:
        """Register a class-based :class:`ClientNamespace`; its ``on_<event>`` methods become handlers.

        Handlers registered with :meth:`on` for the same namespace and event take precedence.
        """
        if not isinstance(namespace_handler, ClientNamespace):
            raise ValueError("not a siothread.ClientNamespace instance")
        namespace_handler._set_client(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    # --- connecting ------------------------------------------------------------------

    def connect(
        self,
        url: str,
        headers: Optional[Dict[str, str]] = None,
        auth: Any = None,
        transports: Optional[Union[str, Sequence[str]]] = None,
        namespaces: Optional[Union[str, Sequence[str]]] = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 5,
        retry: bool = False,
    ) -> None:
        """Connect to a Socket.IO server and to each of ``namespaces`` (default ``['/']``).

        Args:
            url: ``http(s)://host:port`` (``ws(s)://`` also accepted); a query
                string is sent on every request.
            headers: extra HTTP headers for every request and the WebSocket handshake.
            auth: a dict sent in each CONNECT packet, or a callable returning it
                (called again on every reconnection).
            transports: ``['polling', 'websocket']`` (default: polling, then
                upgrade), ``['websocket']`` or ``['polling']``.
            socketio_path: the server's endpoint path.
            wait: return only once every namespace answered.
            wait_timeout: seconds to wait for the namespaces.
            retry: when the server cannot be reached, keep trying with the
                reconnection policy before giving up.

        Raises:
            ConnectionError: unreachable server, TLS failure, timeout, or a
                namespace refused (``message`` and ``data`` are the server's).
        """
        with self._lock:
            if self.connected or self._reconnector is not None:
                raise ConnectionError("Already connected")
        if isinstance(transports, str):
            transports = [transports]
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        names = list(namespaces or ["/"])
        for name in names:
            if not isinstance(name, str) or not _NAMESPACE_RE.match(name):
                raise ValueError(f"invalid namespace {name!r}")
        self.connection_url = url
        self.connection_headers = dict(headers or {})
        self.connection_auth = auth
        self.connection_transports = list(transports or ["polling", "websocket"])
        self.connection_namespaces = names
        self.socketio_path = socketio_path
        self.wait_timeout = wait_timeout if wait else 0
        self._disconnect_requested = False
        self._stop_reconnect.clear()
        self._idle.clear()
        _live_clients.add(self)
        with self._lock:
            self._namespaces = {name: _Namespace(name) for name in names}
        self._start_dispatcher()
        try:
            self._connect_once(wait)
        except _Refused:
            self._become_idle()
            raise
        except ConnectionError as exc:
            if retry and self.reconnection and not self._disconnect_requested:
                self.logger.info("connection failed (%s), retrying", exc.message)
                if self._reconnect_loop(first_error=exc):
                    return
            self._become_idle()
            raise
        except BaseException:  # ValueError for a bad URL, TypeError for a bad auth, ...
            self._become_idle()
            raise

    def _connect_once(self, wait: bool = True) -> None:
        """One connection attempt: Engine.IO session, then a CONNECT per namespace."""
        decoder = self._new_decoder()
        engine_box: List[EngineClient] = []

        def on_message(data: Message) -> None:
            self._on_engine_message(engine_box[0], decoder, data)

        def on_disconnect(reason: str) -> None:
            self._on_engine_disconnect(engine_box[0], reason)

        engine = EngineClient(
            on_message, on_disconnect, ssl_verify=self.ssl_verify, max_payload=self.max_payload,
            request_timeout=self.request_timeout, http_session=self.http_session,
            websocket_options=self.websocket_extra_options, logger=self.engineio_logger)
        engine_box.append(engine)
        with self._lock:
            if self._disconnect_requested:
                raise ConnectionError("disconnect requested")
            self._engine = engine
            for ns in self._namespaces.values():
                ns.answered.clear()
                ns.error = None
                ns.connected = False
                ns.buffer = []
        assert self.connection_url is not None
        engine.connect(self.connection_url, headers=self.connection_headers,
                       transports=self.connection_transports, engineio_path=self.socketio_path)
        try:
            auth = self.connection_auth() if callable(self.connection_auth) else self.connection_auth
            if auth is not None and not isinstance(auth, dict):
                raise TypeError("auth must be a dict or a callable returning a dict")
            for ns in list(self._namespaces.values()):
                payload = dict(auth) if auth is not None else None
                if ns.pid is not None:
                    # socket.io-client _sendConnectPacket: pid/offset merged into the auth.
                    recovery: Dict[str, Any] = {"pid": ns.pid}
                    if ns.offset is not None:
                        recovery["offset"] = ns.offset
                    payload = {**recovery, **(payload or {})}
                self._send(self._codec.Packet(self._codec.PacketType.CONNECT, ns.name, payload))
        except DisconnectedError as exc:
            raise ConnectionError(f"connection lost during the handshake: {exc}") from exc
        except BaseException:
            engine.disconnect()
            raise
        if not wait:
            with self._lock:
                self.connected = True
            return
        self._wait_for_namespaces(engine)

    def _wait_for_namespaces(self, engine: EngineClient) -> None:
        deadline = _now() + self.wait_timeout
        for ns in list(self._namespaces.values()):
            ns.answered.wait(max(0.0, deadline - _now()))
        with self._lock:
            stale = engine is not self._engine or not engine.connected
            refused = [ns for ns in self._namespaces.values() if ns.error is not None]
            pending = [ns for ns in self._namespaces.values() if not ns.connected]
            if not stale and not refused and not pending:
                self.connected = True
                return
        engine.disconnect()
        engine.join()
        with self._lock:
            for ns in self._namespaces.values():
                if ns.connected:
                    ns.connected = False
                    self._fail_acks(ns.name)
                    self._dispatch(self._trigger, "disconnect", ns.name, self.reason.CLIENT_DISCONNECT)
        if refused:
            message, data = refused[0].error  # type: ignore[misc]
            raise _Refused(message, data)
        if stale:
            raise ConnectionError("connection lost during the handshake")
        raise ConnectionError("One or more namespaces failed to connect")

    # --- reconnection ----------------------------------------------------------------

    def _start_reconnect(self) -> None:
        with self._lock:
            if self._reconnector is not None or self._disconnect_requested:
                return
            t = threading.Thread(target=self._reconnect_loop, name="siothread-client-reconnect",
                                 daemon=True)
            self._reconnector = t
        t.start()

    def _reconnect_loop(self, first_error: Optional[ConnectionError] = None) -> bool:
        """Retry with backoff until connected (True) or out of attempts / stopped (False)."""
        backoff = Backoff(self.reconnection_delay, self.reconnection_delay_max,
                          self.randomization_factor)
        attempts = 0
        connected = False
        try:
            while True:
                delay = backoff.duration()
                self.logger.info("reconnecting in %.2f s", delay)
                if self._stop_reconnect.wait(delay):
                    break
                attempts += 1
                try:
                    self._connect_once()
                except ConnectionError as exc:
                    self.logger.info("reconnection attempt %d failed: %s", attempts, exc.message)
                    if not isinstance(exc, _Refused):
                        with self._lock:
                            names = list(self._namespaces)
                        for name in names:
                            self._dispatch(self._trigger, "connect_error", name, exc.message)
                    if self.reconnection_attempts and attempts >= self.reconnection_attempts:
                        self.logger.info("giving up after %d attempts", attempts)
                        break
                    continue
                connected = True
                break
        finally:
            with self._lock:
                if self._reconnector is threading.current_thread():
                    self._reconnector = None
            if not connected and first_error is None:
                self._become_idle()
        return connected

    # --- engine callbacks (reader thread) -------------------------------------------

    def _on_engine_message(self, engine: EngineClient, decoder: Any, data: Message) -> None:
        if engine is not self._engine:
            return
        try:
            packet = decoder.feed(data)
            if packet is not None:
                self._handle_packet(packet)
        except RemoteProtocolError as exc:
            self.logger.warning("protocol error from server: %s", exc.message)
            # Ends the session: the reader reports "parse error" to _on_engine_disconnect.
            raise

    def _handle_packet(self, packet: Any) -> None:
        types = self._codec.PacketType
        ptype = packet.type
        name = packet.namespace
        with self._lock:
            ns = self._namespaces.get(name)
        if ns is None:
            self.logger.info("packet for unknown namespace %s ignored", name)
            return
        if ptype == types.CONNECT:
            self._handle_connect(ns, packet.data)
        elif ptype == types.CONNECT_ERROR:
            self._handle_connect_error(ns, packet.data)
        elif ptype == types.DISCONNECT:
            self._handle_server_disconnect(ns)
        elif ptype in (types.EVENT, types.BINARY_EVENT):
            self._handle_event(ns, packet)
        elif ptype in (types.ACK, types.BINARY_ACK):
            self._handle_ack(packet)

    def _handle_connect(self, ns: _Namespace, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise RemoteProtocolError("CONNECT answer without a sid")
        pid = data.get("pid")
        with self._lock:
            ns.recovered = pid is not None and pid == ns.pid
            ns.pid = pid if isinstance(pid, str) else None
            if ns.pid is None:
                ns.offset = None
            ns.sid = data["sid"]
            ns.connected = True
            ns.error = None
            buffered, ns.buffer = ns.buffer, []
        self.logger.info("namespace %s connected (sid %s, recovered %s)", ns.name, ns.sid, ns.recovered)
        self._dispatch(self._trigger, "connect", ns.name)
        for event, args, ack_id in buffered:
            self._dispatch(self._run_event, ns.name, event, args, ack_id)
        ns.answered.set()

    def _handle_connect_error(self, ns: _Namespace, data: Any) -> None:
        if isinstance(data, dict):
            message = data.get("message")
            message = message if isinstance(message, str) else "Connection refused by server"
            error: Tuple[str, Any] = (message, data.get("data"))
        else:
            error = (data if isinstance(data, str) else "Connection refused by server", None)
        with self._lock:
            ns.error = error
            ns.connected = False
            ns.buffer = []
        self.logger.info("namespace %s refused: %s", ns.name, error[0])
        self._dispatch(self._trigger, "connect_error", ns.name, data)
        ns.answered.set()

    def _handle_server_disconnect(self, ns: _Namespace) -> None:
        with self._lock:
            if not ns.connected:
                return
            ns.connected = False
            ns.sid = None
            # No recovery after an explicit server disconnect (Node does not persist it).
            ns.pid = ns.offset = None
            self._fail_acks(ns.name)
            self._dispatch(self._trigger, "disconnect", ns.name, self.reason.SERVER_DISCONNECT)
            remaining = any(n.connected for n in self._namespaces.values())
            engine = self._engine
            if not remaining:
                self.connected = False
                self._disconnect_requested = True
        if not remaining and engine is not None:
            # python-socketio: the last namespace gone ends the connection, no reconnection.
            threading.Thread(target=self._close_after_server_disconnect, args=(engine,),
                             daemon=True, name="siothread-client-close").start()

    def _close_after_server_disconnect(self, engine: EngineClient) -> None:
        engine.disconnect()
        engine.join()
        self._become_idle()

    def _handle_event(self, ns: _Namespace, packet: Any) -> None:
        args = list(packet.data)
        if ns.pid is not None and packet.id is None and len(args) > 1 and isinstance(args[-1], str):
            ns.offset = args.pop()
        event = args[0]
        with self._lock:
            if not ns.connected:
                ns.buffer.append((event, args[1:], packet.id))
                return
        self._dispatch(self._run_event, ns.name, event, args[1:], packet.id)

    def _handle_ack(self, packet: Any) -> None:
        with self._lock:
            ack = self._acks.pop(packet.id, None)
        if ack is None or ack.namespace != packet.namespace:
            self.logger.info("unexpected ack %s ignored", packet.id)
            return
        ack.result = list(packet.data or [])
        if ack.callback is not None:
            self._dispatch(self._run_callback, ack.callback, ack.result)
        ack.event.set()

    def _on_engine_disconnect(self, engine: EngineClient, reason: str) -> None:
        with self._lock:
            if engine is not self._engine:
                return
            was_connected = self.connected
            self.connected = False
            for ns in self._namespaces.values():
                if ns.connected:
                    ns.connected = False
                    self._fail_acks(ns.name)
                    self._dispatch(self._trigger, "disconnect", ns.name, reason)
                ns.answered.set()  # wakes a connect() that waits
            reconnect = was_connected and self.reconnection and not self._disconnect_requested
        self.logger.info("connection lost: %s", reason)
        if reconnect:
            self._start_reconnect()
        elif was_connected and not self._disconnect_requested:
            self._become_idle()

    def _fail_acks(self, namespace: str) -> None:
        """Pending acks of a namespace that lost its connection: waiters raise DisconnectedError."""
        for ack_id, ack in list(self._acks.items()):
            if ack.namespace == namespace:
                del self._acks[ack_id]
                ack.disconnected = True
                ack.event.set()

    # --- dispatching (dispatcher thread) ---------------------------------------------

    def _start_dispatcher(self) -> None:
        with self._lock:
            if self._dispatcher is not None and self._dispatcher.is_alive():
                return
            self._dispatch_queue = queue.Queue()
            t = threading.Thread(target=self._dispatch_loop, args=(self._dispatch_queue,),
                                 name="siothread-client-dispatch", daemon=True)
            self._dispatcher = t
        t.start()

    def _dispatch(self, fn: Callable[..., None], *args: Any) -> None:
        self._dispatch_queue.put(lambda: fn(*args))

    def _dispatch_loop(self, q: "queue.Queue[Optional[Callable[[], None]]]") -> None:
        while True:
            item = q.get()
            if item is None:
                return
            try:
                item()
            except Exception:
                self.logger.exception("client handler failed")

    def _find_handler(self, event: str, namespace: str) -> Tuple[Optional[Handler], List[Any]]:
        """python-socketio's lookup: exact, then catch-all event, then catch-all namespace."""
        for ns_key, prefix in ((namespace, []), ("*", [namespace])):
            table = self.handlers.get(ns_key)
            if not table:
                continue
            if event in table:
                return table[event], prefix
            if event not in _LIFECYCLE_EVENTS and "*" in table:
                return table["*"], [event] + prefix
        ns_obj = self.namespace_handlers.get(namespace)
        if ns_obj is not None:
            return ns_obj.handler(event), []
        return None, []

    def _trigger(self, event: str, namespace: str, *args: Any) -> Any:
        handler, prefix = self._find_handler(event, namespace)
        if handler is None:
            return None
        full = prefix + list(args)
        if event == "disconnect" and not _accepts_positional(handler, len(full)):
            full = full[:-1]  # a disconnect handler written without the reason argument
        return handler(*full)

    def _run_event(self, namespace: str, event: str, args: List[Any], ack_id: Optional[int]) -> None:
        result = self._trigger(event, namespace, *args)
        if ack_id is None:
            return
        if isinstance(result, tuple):
            data = list(result)
        elif result is None:
            data = []
        else:
            data = [result]
        try:
            self._send(self._codec.Packet(self._codec.PacketType.ACK, namespace, data, ack_id))
        except DisconnectedError:
            self.logger.info("ack %s not sent: disconnected", ack_id)

    def _run_callback(self, callback: Handler, args: List[Any]) -> None:
        callback(*args)

    # --- sending ---------------------------------------------------------------------

    def _send(self, packet: Any) -> None:
        engine = self._engine
        if engine is None or not engine.connected:
            raise DisconnectedError("not connected")
        engine.send(self._encode(packet))

    def emit(self, event: str, data: Any = None, namespace: Optional[str] = None,
             callback: Optional[Handler] = None) -> None:
        """Emit ``event`` to the server.

        ``data`` is one argument; a tuple sends several; ``None`` sends none.
        ``bytes`` may appear at any depth. ``callback(*args)`` runs with the
        server's acknowledgement.

        Raises:
            DisconnectedError: the namespace is not connected (e.g. while reconnecting).
            ValueError: a reserved event name.
        """
        self._emit(event, data, namespace, callback, None)

    def _emit(self, event: str, data: Any, namespace: Optional[str],
              callback: Optional[Handler], waiter: Optional[_Ack]) -> Optional[int]:
        # The codec's reserved names (socket.io-client's, plus "error"): a server
        # drops the connection of a client that emits one.
        if not isinstance(event, str) or not event or event in self._codec.RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        name = namespace or "/"
        if isinstance(data, tuple):
            args = list(data)
        elif data is None:
            args = []
        else:
            args = [data]
        with self._lock:
            ns = self._namespaces.get(name)
            if ns is None or not ns.connected:
                raise BadNamespaceError(f"{name} is not a connected namespace")
            ack_id: Optional[int] = None
            if callback is not None or waiter is not None:
                ack_id = next(self._ack_ids)
                self._acks[ack_id] = waiter if waiter is not None else _Ack(name, callback)
        packet = self._codec.Packet(self._codec.PacketType.EVENT, name, [event] + args, ack_id)
        try:
            self._send(packet)
        except BaseException:
            if ack_id is not None:
                with self._lock:
                    self._acks.pop(ack_id, None)
            raise
        return ack_id

    def send(self, data: Any, namespace: Optional[str] = None,
             callback: Optional[Handler] = None) -> None:
        """Emit the ``message`` event."""
        self.emit("message", data, namespace=namespace, callback=callback)

    def call(self, event: str, data: Any = None, namespace: Optional[str] = None,
             timeout: float = 60) -> Any:
        """Emit and wait for the acknowledgement.

        Returns:
            ``None`` for an empty ack, the value for one argument, a tuple for several.

        Raises:
            TimeoutError: no ack within ``timeout`` seconds.
            DisconnectedError: the namespace is not connected, or its connection
                was lost while waiting.
        """
        waiter = _Ack(namespace or "/", None)
        ack_id = self._emit(event, data, namespace, None, waiter)
        if not waiter.event.wait(timeout):
            with self._lock:
                self._acks.pop(ack_id, None)  # type: ignore[arg-type]
            raise TimeoutError(f"no acknowledgement for {event!r} within {timeout} s")
        if waiter.disconnected:
            raise DisconnectedError("disconnected while waiting for the acknowledgement")
        result = waiter.result
        if not result:
            return None
        return result[0] if len(result) == 1 else tuple(result)

    # --- waiting and leaving ---------------------------------------------------------

    def wait(self) -> None:
        """Block until disconnected for good (reconnections included)."""
        self._idle.wait()
        self._join_threads()

    def sleep(self, seconds: float = 0) -> None:
        """Sleep in a way that lets the client's threads (or greenlets) run."""
        threading.Event().wait(seconds)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread (a greenlet once gevent patched
        threading); returns the started thread, whose ``join()`` waits for it."""
        t = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True,
                             name="siothread-client-task")
        t.start()
        return t

    def disconnect(self) -> None:
        """Leave every namespace and close the connection; stops reconnecting. Idempotent."""
        with self._lock:
            self._disconnect_requested = True
            reconnector = self._reconnector
            engine = self._engine
        self._stop_reconnect.set()
        if engine is not None and engine.connected:
            with self._lock:
                names = [ns.name for ns in self._namespaces.values() if ns.connected]
            for name in names:
                try:
                    self._send(self._codec.Packet(self._codec.PacketType.DISCONNECT, name))
                except DisconnectedError:
                    break
        if engine is not None:
            engine.disconnect()
        me = threading.current_thread()
        if reconnector is not None and reconnector is not me:
            reconnector.join(self.request_timeout + 1)
        with self._lock:
            self.connected = False
            for ns in self._namespaces.values():
                if ns.connected:
                    ns.connected = False
                    self._fail_acks(ns.name)
                    self._dispatch(self._trigger, "disconnect", ns.name, self.reason.CLIENT_DISCONNECT)
                ns.answered.set()
                # A new connect() starts a new session: nothing to recover.
                ns.pid = ns.offset = None
                ns.recovered = False
        self._become_idle()
        self._join_threads()
        _live_clients.discard(self)

    def shutdown(self) -> None:
        """Alias of :meth:`disconnect` (python-socketio ``Client.shutdown``)."""
        self.disconnect()

    def _become_idle(self) -> None:
        """No connection and no reconnection: stop the dispatcher (after the queued handlers)."""
        with self._lock:
            if self._reconnector is not None and self._reconnector is not threading.current_thread():
                return
            dispatcher = self._dispatcher
            if dispatcher is not None:
                self._dispatch_queue.put(None)
                self._dispatcher = None
                self._stopped_dispatchers.append(dispatcher)
        self._idle.set()

    def _join_threads(self, timeout: float = 5.0) -> None:
        """Wait for the engine's threads and the stopped dispatchers (never for the caller itself)."""
        me = threading.current_thread()
        with self._lock:
            engine = self._engine
            dispatchers, self._stopped_dispatchers = self._stopped_dispatchers, []
        if engine is not None:
            engine.join(timeout)
        for t in dispatchers:
            if t is not me:
                t.join(timeout)

    # --- information -----------------------------------------------------------------

    @property
    def sid(self) -> Optional[str]:
        """The session id of the default namespace (python-socketio ``Client.sid``)."""
        return self.get_sid("/")

    def get_sid(self, namespace: Optional[str] = None) -> Optional[str]:
        """The session id of ``namespace`` (default ``'/'``), ``None`` when not connected."""
        with self._lock:
            ns = self._namespaces.get(namespace or "/")
            return ns.sid if ns is not None and ns.connected else None

    @property
    def namespaces(self) -> Dict[str, Optional[str]]:
        """Connected namespaces and their session ids."""
        with self._lock:
            return {n.name: n.sid for n in self._namespaces.values() if n.connected}

    def transport(self) -> Optional[str]:
        """``'websocket'`` or ``'polling'``, the transport in use (``None`` when disconnected)."""
        engine = self._engine
        return engine.transport if engine is not None and engine.connected else None

    @property
    def recovered(self) -> bool:
        """Whether the last reconnection of the main namespace restored its server-side session.

        The main namespace is ``'/'`` when connected to it, else the first of
        ``namespaces``; see :meth:`is_recovered` for the others. socket.io-client
        ``socket.recovered``: the server restored the sid, the rooms and replayed
        the missed events (Node needs at least one event received before the
        disconnection, since recovery starts from the last offset).
        """
        names = self.connection_namespaces
        return self.is_recovered("/" if "/" in names else names[0])

    def is_recovered(self, namespace: Optional[str] = None) -> bool:
        """Whether the last (re)connection of ``namespace`` restored its server-side session."""
        with self._lock:
            ns = self._namespaces.get(namespace or "/")
            return bool(ns is not None and ns.connected and ns.recovered)


def _now() -> float:
    return time.monotonic()
