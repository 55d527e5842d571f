"""Engine.IO v4 client: long-polling over ``requests``, WebSocket over ``websocket-client``.

One :class:`EngineClient` is one Engine.IO session (engine.io-client ``socket.ts``):
:meth:`EngineClient.connect` performs the handshake, probes and upgrades to
WebSocket when both sides allow it (done before the session starts carrying
messages, so no packet can be stranded on the old transport), then runs:

- a reader thread (one long-poll GET after another, or WebSocket ``recv``),
- a writer thread for polling (one POST in flight, batches under the server's
  ``maxPayload``, like engine.io-client ``_getWritablePackets``),
- a heartbeat thread that answers nothing itself but declares the server dead
  when no PING arrived within ``pingInterval + pingTimeout`` (spec "Heartbeat").

Threads are plain :mod:`threading` threads, so the client runs in a threaded
program and, once gevent has monkey-patched the process, as greenlets.

Everything the server controls is bounded (``security-and-robustness`` row K2):
response bodies and WebSocket messages by ``max_payload`` (checked while
reading, before buffering), each response by a deadline, the handshake by
``request_timeout``. TLS certificates are verified unless ``ssl_verify=False``
(K1, CVE-2016-10536). A broken server ends the session with a
:class:`~siothread.errors.RemoteProtocolError` (reason ``"parse error"``), or
makes :meth:`EngineClient.connect` raise :class:`ProtocolConnectionError`.
"""
from __future__ import annotations

import enum
import json
import logging
import socket
import ssl
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import websocket
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from websocket._abnf import ABNF, frame_buffer

from ..errors import (
    CloseCode,
    ConnectionError,
    DisconnectedError,
    EngineErrorCode,
    RemoteProtocolError,
)
from ..protocol import engineio as eio

__all__ = ["EngineClient", "ProtocolConnectionError", "DEFAULT_MAX_PAYLOAD"]

# The ``ws`` library's default ``maxPayload`` for what a Node client accepts (100 MiB).
DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024
# python-engineio's client ``request_timeout`` default.
DEFAULT_REQUEST_TIMEOUT = 5.0
# Handshake values outside these bounds are treated as a broken server.
_MAX_SID_LENGTH = 256
_MAX_HEARTBEAT_MS = 24 * 3600 * 1000
# An incoming PING counts as the server being alive; the Engine.IO spec leaves
# the client no other signal. A small grace absorbs scheduling jitter.
_HEARTBEAT_GRACE = 0.05

Message = Union[str, bytes]


class ProtocolConnectionError(ConnectionError, RemoteProtocolError):
    """The connection failed because the server broke the protocol.

    Both a :class:`~siothread.errors.ConnectionError` (what ``connect()`` callers
    catch) and a :class:`~siothread.errors.RemoteProtocolError` (whose fault it was).
    """

    def __init__(self, message: str, data: Any = None) -> None:
        RemoteProtocolError.__init__(self, message)
        self.data = data


class State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


def _bad(message: str, close_code: int = CloseCode.PROTOCOL_ERROR) -> RemoteProtocolError:
    return RemoteProtocolError(message, engine_code=EngineErrorCode.BAD_REQUEST, close_code=close_code)


# --- abortable HTTP -------------------------------------------------------------------

class _SocketRegistry:
    """The HTTP connections of one session, so that closing can interrupt a pending poll."""

    def __init__(self) -> None:
        self._conns: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._lock = threading.Lock()

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)

    def abort(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    # shutdown, not close: the thread using the socket gets an error
                    # and closes it itself, so no descriptor is closed under its feet.
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _TrackingAdapter(HTTPAdapter):
    """A requests adapter whose new connections are registered for :meth:`_SocketRegistry.abort`."""

    def __init__(self, registry: _SocketRegistry) -> None:
        self._registry = registry
        super().__init__(pool_connections=2, pool_maxsize=4)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        registry = self._registry

        class HTTPPool(HTTPConnectionPool):
            def _new_conn(self) -> Any:
                conn = super()._new_conn()
                registry.add(conn)
                return conn

        class HTTPSPool(HTTPSConnectionPool):
            def _new_conn(self) -> Any:
                conn = super()._new_conn()
                registry.add(conn)
                return conn

        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}


def _read_body(resp: requests.Response, limit: int, deadline: float) -> bytes:
    """The response body, refusing more than ``limit`` bytes or reading past ``deadline``."""
    length = resp.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise _bad("response body exceeds max_payload", CloseCode.MESSAGE_TOO_BIG)
    chunks: List[bytes] = []
    total = 0
    for chunk in resp.iter_content(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise _bad("response body exceeds max_payload", CloseCode.MESSAGE_TOO_BIG)
        if time.monotonic() > deadline:
            raise _bad("response body not complete before the deadline")
        chunks.append(chunk)
    return b"".join(chunks)


# --- bounded WebSocket frames ---------------------------------------------------------

class _CappedFrameBuffer(frame_buffer):
    """websocket-client's frame reader, refusing a frame longer than ``limit`` before reading it."""

    def __init__(self, recv_fn: Callable[[int], bytes], limit: int) -> None:
        # UTF-8 is checked on the reassembled message (a fragment may split a character).
        super().__init__(recv_fn, True)
        self.limit = limit

    def recv_length(self) -> None:
        super().recv_length()
        if self.length is not None and self.length > self.limit:
            raise _bad("WebSocket frame exceeds max_payload", CloseCode.MESSAGE_TOO_BIG)


def _recv_message(ws: websocket.WebSocket, limit: int) -> Optional[Message]:
    """The next complete data message (``None`` when the server closed), fragments capped in total."""
    parts: List[bytes] = []
    opcode: Optional[int] = None
    size = 0
    while True:
        frame = ws.recv_frame()
        op = frame.opcode
        if op in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT):
            if (op == ABNF.OPCODE_CONT) != (opcode is not None):
                raise _bad("unexpected WebSocket continuation frame")
            if opcode is None:
                opcode = op
            size += len(frame.data)
            if size > limit:
                raise _bad("WebSocket message exceeds max_payload", CloseCode.MESSAGE_TOO_BIG)
            parts.append(frame.data)
            if frame.fin:
                data = b"".join(parts)
                if opcode == ABNF.OPCODE_BINARY:
                    return data
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    raise _bad("WebSocket text is not UTF-8", CloseCode.INVALID_DATA) from None
        elif op == ABNF.OPCODE_CLOSE:
            return None
        elif op == ABNF.OPCODE_PING:
            ws.pong(frame.data)
        # PONG frames are ignored.


# --- handshake ------------------------------------------------------------------------

class Handshake:
    """The validated data of the server's OPEN packet (spec "Handshake")."""

    def __init__(self, raw: Optional[str]) -> None:
        try:
            data = json.loads(raw or "")
        except (ValueError, RecursionError):
            raise _bad("OPEN packet data is not JSON") from None
        if not isinstance(data, dict):
            raise _bad("OPEN packet data is not an object")
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid or len(sid) > _MAX_SID_LENGTH:
            raise _bad("OPEN packet without a valid sid")
        upgrades = data.get("upgrades", [])
        if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
            raise _bad("OPEN packet upgrades is not a list of strings")
        self.sid: str = sid
        self.upgrades: List[str] = upgrades
        self.ping_interval = self._ms(data, "pingInterval", 25000) / 1000.0
        self.ping_timeout = self._ms(data, "pingTimeout", 20000) / 1000.0
        max_payload = data.get("maxPayload", 1_000_000)
        if type(max_payload) is not int or max_payload <= 0:
            raise _bad("OPEN packet maxPayload is not a positive integer")
        self.max_payload: int = max_payload

    @staticmethod
    def _ms(data: Mapping[str, Any], key: str, default: int) -> int:
        value = data.get(key, default)
        if type(value) is not int or not 0 < value <= _MAX_HEARTBEAT_MS:
            raise _bad(f"OPEN packet {key} out of range")
        return value


def _engine_url(url: str, path: str, query: Mapping[str, Any], transport: str,
                sid: Optional[str], websocket_scheme: bool) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        scheme = "http" if scheme == "ws" else "https"
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
    if websocket_scheme:
        scheme = "ws" if scheme == "http" else "wss"
    params: List[Tuple[str, str]] = []
    if parts.query:
        params.extend(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in query.items():
        if isinstance(value, (list, tuple)):
            params.extend((key, str(v)) for v in value)
        else:
            params.append((key, str(value)))
    params.append(("EIO", "4"))
    params.append(("transport", transport))
    if sid is not None:
        params.append(("sid", sid))
    full_path = "/" + path.strip("/") + "/"
    return urlunsplit((scheme, parts.netloc, full_path, urlencode(params), ""))


def _ssl_context(ssl_verify: Union[bool, str]) -> ssl.SSLContext:
    if ssl_verify is False:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(ssl_verify, str):
        return ssl.create_default_context(cafile=ssl_verify)
    return ssl.create_default_context()


# --- the session ----------------------------------------------------------------------

class EngineClient:
    """One Engine.IO session seen from the client.

    Args:
        on_message: called with each MESSAGE payload (``str`` or ``bytes``), in
            order, from the reader thread.
        on_disconnect: called once with the reason when the session ends for any
            cause other than :meth:`disconnect`: ``"transport close"`` (the server
            closed), ``"transport error"``, ``"ping timeout"``, ``"parse error"``.
        ssl_verify: ``True`` (system CAs), ``False`` (no verification), or the path
            of a CA bundle to trust.
        max_payload: the largest polling response body or WebSocket message accepted.
        request_timeout: seconds for connecting and for each handshake request.
        http_session: a ``requests.Session`` to use for polling (cookies, proxies,
            client certificates); by default one is created and closed with the session.
        websocket_options: extra keyword arguments for ``websocket.WebSocket.connect``.
    """

    def __init__(
        self,
        on_message: Callable[[Message], None],
        on_disconnect: Callable[[str], None],
        *,
        ssl_verify: Union[bool, str] = True,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        http_session: Optional[requests.Session] = None,
        websocket_options: Optional[Mapping[str, Any]] = None,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self.ssl_verify = ssl_verify
        self.max_payload = max_payload
        self.request_timeout = request_timeout
        self._own_http = http_session is None
        self._registry = _SocketRegistry()
        if http_session is None:
            # Our own session gets the adapter that lets closing interrupt a pending
            # poll; a caller's session is left as configured (timeouts still bound it).
            http_session = requests.Session()
            adapter = _TrackingAdapter(self._registry)
            http_session.mount("http://", adapter)
            http_session.mount("https://", adapter)
        self._http = http_session
        self._websocket_options = dict(websocket_options or {})
        self.logger = logger or logging.getLogger("siothread.client")

        self.state = State.NEW
        self.sid: Optional[str] = None
        self.transport: Optional[str] = None
        self.handshake: Optional[Handshake] = None
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._ws: Optional[websocket.WebSocket] = None
        self._ws_send_lock = threading.Lock()
        self._outbox: List[eio.Packet] = []
        self._outbox_cond = threading.Condition()
        self._ping_event = threading.Event()
        self._stopped = threading.Event()
        self._cancelled = False
        self._url = ""
        self._path = "socket.io"
        self._query: Dict[str, Any] = {}
        self._headers: Dict[str, str] = {}

    # --- public --------------------------------------------------------------------

    def connect(
        self,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        transports: Sequence[str] = ("polling", "websocket"),
        engineio_path: str = "socket.io",
        query: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Open the session; returns once it is open (and upgraded when possible).

        Raises:
            ConnectionError: the server is unreachable, refused the handshake
                (``data`` holds its JSON error body), or TLS verification failed.
            ProtocolConnectionError: the server answered with something invalid.
            ValueError: bad ``url`` or ``transports``.
        """
        if self.state is not State.NEW:
            raise RuntimeError("an EngineClient connects once")
        transports = list(transports)
        if not transports or any(t not in ("polling", "websocket") for t in transports):
            raise ValueError("transports must be a non-empty subset of ['polling', 'websocket']")
        self._url = url
        self._path = engineio_path
        self._query = dict(query or {})
        self._headers = dict(headers or {})
        try:
            if "polling" in transports:
                self._connect_polling()
                if "websocket" in transports and "websocket" in self.handshake.upgrades:  # type: ignore[union-attr]
                    self._try_upgrade()
            else:
                self._connect_websocket()
            if self._cancelled:
                raise ConnectionError("connection attempt cancelled")
        except BaseException:
            self._abort_io()
            self._release()
            self.state = State.CLOSED
            raise
        self.state = State.OPEN
        self._start(self._heartbeat_loop, "heartbeat")
        if self.transport == "polling":
            self._start(self._poll_loop, "poll")
            self._start(self._write_loop, "post")
        else:
            self._start(self._ws_loop, "ws-read")

    def send(self, messages: Sequence[Message]) -> None:
        """Send MESSAGE packets, in order and together (one POST or consecutive frames).

        Raises:
            DisconnectedError: the session is not open.
        """
        packets = [eio.Packet(eio.PacketType.MESSAGE, m) for m in messages]
        self._send_packets(packets)

    def disconnect(self, timeout: float = 2.0) -> None:
        """Flush what was sent, send CLOSE, stop every thread. Idempotent.

        ``on_disconnect`` is not called for a disconnection asked for here.
        """
        with self._lock:
            was_open = self.state is State.OPEN
            if was_open:
                self.state = State.CLOSING
            elif self.state is State.NEW:
                # connect() runs in another thread: make it fail fast.
                self._cancelled = True
        if self._cancelled:
            self._abort_io()
            return
        if was_open:
            try:
                if self.transport == "polling":
                    with self._outbox_cond:
                        self._outbox.append(eio.Packet(eio.PacketType.CLOSE))
                        self._outbox_cond.notify_all()
                    writer = self._thread_named("post")
                    if writer is not None and writer is not threading.current_thread():
                        writer.join(timeout)
                else:
                    ws = self._ws
                    if ws is not None:
                        with self._ws_send_lock:
                            ws.send(eio.encode_packet(eio.Packet(eio.PacketType.CLOSE)))
                            ws.send_close()
                        # The reader sees the server's close frame (or EOF) and ends.
                        reader = self._thread_named("ws-read")
                        if reader is not None and reader is not threading.current_thread():
                            reader.join(min(timeout, 1.0))
            except Exception as exc:  # the session is going away anyway
                self.logger.debug("engine: error while closing: %r", exc)
            with self._lock:
                self.state = State.CLOSED
        self._shutdown(timeout)

    def join(self, timeout: float = 2.0) -> None:
        """Wait until every thread of the session has ended (call after it closed)."""
        deadline = time.monotonic() + timeout
        me = threading.current_thread()
        for t in list(self._threads):
            if t is not me:
                t.join(max(0.0, deadline - time.monotonic()))

    @property
    def connected(self) -> bool:
        return self.state is State.OPEN

    # --- handshake -----------------------------------------------------------------

    def _http_get(self, url: str, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        resp = self._http.get(url, headers=self._headers, timeout=timeout, stream=True,
                              verify=self._requests_verify())
        try:
            body = _read_body(resp, self.max_payload, deadline)
            if resp.status_code != 200:
                raise _HTTPStatus(resp.status_code, body)
            return body
        finally:
            resp.close()

    def _requests_verify(self) -> Union[bool, str]:
        return self.ssl_verify

    def _connect_polling(self) -> None:
        url = _engine_url(self._url, self._path, self._query, "polling", None, False)
        self.logger.info("engine: polling handshake %s", url)
        try:
            body = self._http_get(url, self.request_timeout)
        except _HTTPStatus as exc:
            raise exc.connection_error() from None
        except RemoteProtocolError as exc:
            raise ProtocolConnectionError(exc.message) from exc
        except requests.exceptions.SSLError as exc:
            raise ConnectionError(f"TLS verification failed: {exc}") from exc
        except (requests.exceptions.RequestException, OSError) as exc:
            raise ConnectionError(f"cannot connect to {self._url}: {exc}") from exc
        try:
            packets = eio.decode_payload(body)
            if packets[0].type is not eio.PacketType.OPEN:
                raise _bad("first packet is not OPEN")
            handshake = Handshake(packets[0].data if isinstance(packets[0].data, str) else None)
        except RemoteProtocolError as exc:
            raise ProtocolConnectionError(f"invalid handshake: {exc.message}") from exc
        self._opened(handshake, "polling")
        self._pending_packets = packets[1:]

    def _open_websocket(self, sid: Optional[str]) -> websocket.WebSocket:
        url = _engine_url(self._url, self._path, self._query, "websocket", sid, True)
        ws = websocket.WebSocket(sslopt={"context": _ssl_context(self.ssl_verify)},
                                 enable_multithread=True, skip_utf8_validation=True)
        ws.frame_buffer = _CappedFrameBuffer(ws._recv, self.max_payload)
        self._ws = ws
        headers = dict(self._headers)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self._http.cookies)
        options = dict(self._websocket_options)
        if cookies:
            options.setdefault("cookie", cookies)
        # websocket-client bounds each recv, not the whole handshake: a server that
        # trickles header bytes forever is cut off by this watchdog.
        watchdog = threading.Timer(self.request_timeout, self._abort_ws, args=(ws,))
        watchdog.daemon = True
        watchdog.start()
        try:
            options.setdefault("timeout", self.request_timeout)  # the application's value wins
            ws.connect(url, header=[f"{k}: {v}" for k, v in headers.items()], **options)
        except websocket.WebSocketBadStatusException as exc:
            raise ConnectionError(f"WebSocket handshake refused with status {exc.status_code}",
                                  _json_or_none(exc.resp_body)) from exc
        except ssl.SSLError as exc:
            raise ConnectionError(f"TLS verification failed: {exc}") from exc
        except RemoteProtocolError:
            raise
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            raise ConnectionError(f"cannot open WebSocket to {self._url}: {exc!r}") from exc
        finally:
            watchdog.cancel()
            watchdog.join()
        return ws

    def _recv_ws_packet(self, ws: websocket.WebSocket) -> eio.Packet:
        try:
            message = _recv_message(ws, self.max_payload)
        except RemoteProtocolError as exc:
            raise ProtocolConnectionError(exc.message) from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise ConnectionError(f"WebSocket failed during handshake: {exc!r}") from exc
        if message is None:
            raise ConnectionError("server closed the WebSocket during the handshake")
        try:
            return eio.decode_packet(message)
        except RemoteProtocolError as exc:
            raise ProtocolConnectionError(exc.message) from exc

    def _connect_websocket(self) -> None:
        self.logger.info("engine: websocket handshake %s", self._url)
        ws = self._open_websocket(None)
        # The OPEN packet must arrive within request_timeout, however it trickles.
        watchdog = threading.Timer(self.request_timeout, self._abort_ws, args=(ws,))
        watchdog.daemon = True
        watchdog.start()
        try:
            ws.settimeout(self.request_timeout)
            pkt = self._recv_ws_packet(ws)
        finally:
            watchdog.cancel()
            watchdog.join()
        if pkt.type is not eio.PacketType.OPEN or not isinstance(pkt.data, str):
            raise ProtocolConnectionError("first packet is not OPEN")
        try:
            handshake = Handshake(pkt.data)
        except RemoteProtocolError as exc:
            raise ProtocolConnectionError(f"invalid handshake: {exc.message}") from exc
        self._opened(handshake, "websocket")
        ws.settimeout(self._read_timeout())

    def _try_upgrade(self) -> None:
        """Probe the WebSocket transport and switch to it (spec "Upgrade"); stay on polling on failure."""
        assert self.sid is not None
        try:
            ws = self._open_websocket(self.sid)
        except ConnectionError as exc:
            self.logger.info("engine: WebSocket upgrade failed, staying on polling: %s", exc)
            self._ws = None
            return
        watchdog = threading.Timer(self.request_timeout, self._abort_ws, args=(ws,))
        watchdog.daemon = True
        watchdog.start()
        try:
            ws.settimeout(self.request_timeout)
            ws.send(eio.encode_packet(eio.Packet(eio.PacketType.PING, "probe")))
            pkt = self._recv_ws_packet(ws)
            if pkt.type is not eio.PacketType.PONG or pkt.data != "probe":
                raise ProtocolConnectionError("WebSocket probe not answered with 3probe")
            ws.send(eio.encode_packet(eio.Packet(eio.PacketType.UPGRADE)))
        except ConnectionError as exc:
            self.logger.info("engine: WebSocket probe failed, staying on polling: %s", exc)
            self._abort_ws(ws)
            ws.shutdown()
            self._ws = None
            return
        finally:
            watchdog.cancel()
            watchdog.join()
        ws.settimeout(self._read_timeout())
        self.transport = "websocket"
        self.logger.info("engine: upgraded to websocket")

    def _opened(self, handshake: Handshake, transport: str) -> None:
        self.handshake = handshake
        self.sid = handshake.sid
        self.transport = transport
        self._pending_packets: List[eio.Packet] = []

    def _read_timeout(self) -> float:
        hs = self.handshake
        assert hs is not None
        return hs.ping_interval + hs.ping_timeout + 1.0

    # --- running ---------------------------------------------------------------------

    def _start(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=f"siothread-client-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _thread_named(self, name: str) -> Optional[threading.Thread]:
        for t in self._threads:
            if t.name == f"siothread-client-{name}":
                return t
        return None

    def _handle_packet(self, pkt: eio.Packet) -> None:
        ptype = pkt.type
        if ptype is eio.PacketType.MESSAGE:
            self._on_message(pkt.data if pkt.data is not None else "")
        elif ptype is eio.PacketType.PING:
            self._ping_event.set()
            if self.state is State.OPEN:
                pong = eio.Packet(eio.PacketType.PONG, pkt.data if isinstance(pkt.data, str) else None)
                try:
                    self._send_packets([pong])
                except DisconnectedError:
                    pass
        elif ptype is eio.PacketType.CLOSE:
            self._fail("transport close")
        elif ptype in (eio.PacketType.NOOP, eio.PacketType.PONG):
            pass
        else:
            raise _bad(f"unexpected {ptype.name} packet")

    def _heartbeat_loop(self) -> None:
        hs = self.handshake
        assert hs is not None
        while not self._stopped.is_set():
            alive = self._ping_event.wait(hs.ping_interval + hs.ping_timeout + _HEARTBEAT_GRACE)
            if self._stopped.is_set():
                return
            if not alive:
                self.logger.info("engine: no PING within pingInterval + pingTimeout")
                self._fail("ping timeout")
                return
            self._ping_event.clear()

    def _poll_loop(self) -> None:
        try:
            for pkt in self._pending_packets:
                self._handle_packet(pkt)
            self._pending_packets = []
            url_sid = self.sid
            while self.state is State.OPEN:
                url = _engine_url(self._url, self._path, self._query, "polling", url_sid, False)
                try:
                    body = self._http_get(url, self._read_timeout())
                except _HTTPStatus as exc:
                    self.logger.info("engine: poll answered %s", exc.status)
                    self._fail("transport error")
                    return
                except (requests.exceptions.RequestException, OSError) as exc:
                    if self.state is State.OPEN:
                        self.logger.info("engine: poll failed: %r", exc)
                    self._fail("transport error")
                    return
                for pkt in eio.decode_payload(body):
                    self._handle_packet(pkt)
                    if self.state is not State.OPEN:
                        return
        except RemoteProtocolError as exc:
            self.logger.warning("engine: protocol error from server: %s", exc.message)
            self._fail("parse error")
        except Exception:
            self.logger.exception("engine: unexpected error in the polling reader")
            self._fail("transport error")

    def _write_loop(self) -> None:
        assert self.handshake is not None
        limit = self.handshake.max_payload
        post_url = _engine_url(self._url, self._path, self._query, "polling", self.sid, False)
        while True:
            with self._outbox_cond:
                while not self._outbox and not self._stopped.is_set():
                    self._outbox_cond.wait()
                if self._stopped.is_set():
                    return
                batch, size = [], 0
                while self._outbox:
                    # engine.io-client _getWritablePackets: keep a POST under maxPayload,
                    # but always send at least one packet.
                    seg = len(eio.encode_payload([self._outbox[0]]).encode("utf-8")) + 1
                    if batch and size + seg > limit:
                        break
                    batch.append(self._outbox.pop(0))
                    size += seg
            closing = any(p.type is eio.PacketType.CLOSE for p in batch)
            try:
                resp = self._http.post(
                    post_url, data=eio.encode_payload(batch).encode("utf-8"),
                    headers={**self._headers, "Content-Type": "text/plain;charset=UTF-8"},
                    timeout=self.request_timeout, stream=True, verify=self._requests_verify())
                try:
                    _read_body(resp, 4096, time.monotonic() + self.request_timeout)
                    status = resp.status_code
                finally:
                    resp.close()
            except (requests.exceptions.RequestException, OSError, RemoteProtocolError) as exc:
                if self.state is State.OPEN:
                    self.logger.info("engine: POST failed: %r", exc)
                    self._fail("transport error")
                return
            if status != 200:
                self.logger.info("engine: POST answered %s", status)
                self._fail("transport error")
                return
            if closing:
                return

    def _ws_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            while self.state is State.OPEN:
                message = _recv_message(ws, self.max_payload)
                if message is None:
                    self._fail("transport close")
                    return
                if isinstance(message, bytes):
                    self._handle_packet(eio.Packet(eio.PacketType.MESSAGE, message))
                else:
                    for pkt in eio.decode_ws_text(message):
                        self._handle_packet(pkt)
        except RemoteProtocolError as exc:
            if self.state is State.OPEN:
                self.logger.warning("engine: protocol error from server: %s", exc.message)
            self._fail("parse error")
        except (websocket.WebSocketException, OSError) as exc:
            if self.state is State.OPEN:
                self.logger.info("engine: WebSocket failed: %r", exc)
            self._fail("transport close" if isinstance(exc, websocket.WebSocketConnectionClosedException)
                       else "transport error")
        except Exception:
            self.logger.exception("engine: unexpected error in the WebSocket reader")
            self._fail("transport error")

    def _send_packets(self, packets: List[eio.Packet]) -> None:
        if self.state is not State.OPEN:
            raise DisconnectedError("the Engine.IO session is not open")
        if self.transport == "polling":
            with self._outbox_cond:
                self._outbox.extend(packets)
                self._outbox_cond.notify_all()
            return
        ws = self._ws
        assert ws is not None
        try:
            with self._ws_send_lock:
                for pkt in packets:
                    data = eio.encode_packet(pkt)
                    if isinstance(data, bytes):
                        ws.send_bytes(data)
                    else:
                        ws.send(data)
        except (websocket.WebSocketException, OSError) as exc:
            self._fail("transport error")
            raise DisconnectedError(f"WebSocket send failed: {exc!r}") from exc

    # --- closing ---------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        """End the session from inside (server closed, error, dead server) and report it once."""
        with self._lock:
            if self.state is not State.OPEN:
                return
            self.state = State.CLOSED
        self.logger.info("engine: session %s closed: %s", self.sid, reason)
        self._shutdown(0)
        try:
            self._on_disconnect(reason)
        except Exception:
            self.logger.exception("engine: on_disconnect handler failed")

    def _shutdown(self, timeout: float) -> None:
        self._stopped.set()
        self._ping_event.set()
        with self._outbox_cond:
            self._outbox_cond.notify_all()
        self._abort_io()
        if timeout:
            self.join(timeout)
        self._release()

    def _abort_io(self) -> None:
        self._registry.abort()
        ws = self._ws
        if ws is not None:
            self._abort_ws(ws)

    @staticmethod
    def _abort_ws(ws: websocket.WebSocket) -> None:
        sock = ws.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _release(self) -> None:
        """Close descriptors once no thread uses them any more."""
        me = threading.current_thread()
        if any(t.is_alive() and t is not me for t in self._threads):
            # A thread still runs: the last one to finish releases (see _thread_exit).
            threading.Thread(target=self._release_later, daemon=True,
                             name="siothread-client-release").start()
            return
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.shutdown()
        if self._own_http:
            self._http.close()

    def _release_later(self) -> None:
        me = threading.current_thread()
        for t in list(self._threads):
            if t is not me:
                t.join()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.shutdown()
        if self._own_http:
            self._http.close()


class _HTTPStatus(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body

    def connection_error(self) -> ConnectionError:
        data = _json_or_none(self.body)
        message = f"unexpected status {self.status} from server"
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            message = f"{message}: {data['message'][:200]}"
        return ConnectionError(message, data)


def _json_or_none(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body[:4096]).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(body, str) or len(body) > 4096:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
