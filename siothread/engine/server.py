"""The Engine.IO v4 server: handshake, request routing, session registry, shutdown.

Spec: engine.io-protocol v4 ("Handshake", "Upgrade", "Heartbeat") and the
behaviour of engine.io ``lib/server.ts`` (``verify()``, ``handshake()``,
``handleUpgrade()``). Every refusal is a fixed engine.io error body; sids come
from :mod:`secrets` (120 random bits) and are looked up in a plain dict, so no
client string ever reaches an attribute lookup (CVE-2026-59724).
With ``allow_eio3`` it also serves Engine.IO v3 clients; what differs for them
on the wire lives in :mod:`.legacy`.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from ..errors import CloseCode, EngineErrorCode, RemoteProtocolError
from ..protocol.engineio import SEPARATOR, Packet, PacketType, decode_ws_text, open_packet_data
from . import legacy, polling
from ._runtime import Runtime
from .config import EngineConfig
from .diagnostics import NO_HANDOVER, Diagnostics
from ._auto_runtime import AutoRuntime
from .modes import detect_mode, select_runtime
from .http import cors_headers, error_response, origin_allowed, parse_query, preflight_headers
from .prepared import Prepared
from .session import Reason, Session, State
from .websocket import WebSocketConnection
from .ws_accept import Acceptor, TakeoverAcceptor, can_hand_over, find_acceptor

__all__ = ["Server", "Reason"]

Handler = Callable[..., Any]
_EVENTS = ("connect", "message", "disconnect", "overflow")
#: entry points callable from any thread (the threading runtime guards them)
_THREAD_SAFE_API = ("handle_request", "send", "prepare", "send_prepared", "disconnect", "transport",
                    "is_connected", "environ", "queued", "heard_from", "stop_accepting", "shutdown")


class Server:
    """An Engine.IO server; serve it with :class:`siothread.WSGIApp`.

    It owns its sessions and their transports, which report back to it through
    the :class:`~siothread.engine.owner.SessionOwner` methods (``session_packet``,
    ``session_overflow``, ``session_closing``, ``keep_last_poll``, ``session_closed``);
    those are for sessions and transports, not for applications.

    Options are those of :class:`~siothread.engine.config.EngineConfig`; an
    unknown keyword raises ``TypeError``. ``async_mode`` chooses the concurrency
    runtime (:mod:`siothread.engine.modes`; ``self.async_mode`` says which);
    ``monitor_clients`` is accepted for python-engineio compatibility and has no
    effect: every session has its own heartbeat timer, there is no monitor task.

    Handlers (``@eio.on(name)``):
        ``connect(sid, environ)``: return False to refuse the session.
        ``message(sid, data)``: ``data`` is ``str`` or ``bytes``; called in order, from the
            session's reader greenlet: it must not block for long.
        ``disconnect(sid, reason)``: once per session, with a :class:`Reason` string.
        ``overflow(sid, policy)``: the session's outbound queue overflowed.
    """

    def __init__(self, *, runtime: Optional[Runtime] = None, async_mode: Optional[str] = None,
                 monitor_clients: Optional[bool] = None, **options: Any) -> None:
        self.config = EngineConfig.from_kwargs(**options)
        self._async_mode, self.runtime = select_runtime(async_mode, runtime)
        #: the stand-in runtime while ``async_mode=None`` is undecided (:mod:`._auto_runtime`), else None
        self.auto_runtime: Optional[AutoRuntime] = self.runtime if self._async_mode is None else None
        self.logger = self.config.logger
        self._diag = Diagnostics(self.logger)
        self.debug = self.logger.isEnabledFor(logging.DEBUG)
        self.sessions: Dict[str, Session] = {}
        #: polling sessions closed by the server while no GET was parked: what they still owe
        #: (queued packets and CLOSE) waits here for the client's next GET, for a while
        self._last_polls: Dict[str, Session] = {}
        self.handlers: Dict[str, Handler] = {}
        self._on_message: Handler = lambda sid, data: None
        self._accepting = True
        self._ws_loops = 0
        self._ws_idle: Any = None
        #: watchers told of refused handshakes, upgrades and overflows (:class:`siothread.observer.Observer`)
        self.observers: List[Any] = []
        if self.auto_runtime is not None:
            self.auto_runtime.on_resolve(self._runtime_resolved)
        else:
            self._runtime_resolved(self._async_mode, self.runtime)
        self.runtime.guard(self, _THREAD_SAFE_API)

    def _runtime_resolved(self, mode: str, runtime: Any) -> None:
        """The runtime is known (at construction, or at first use with ``async_mode=None``)."""
        self._async_mode = mode
        self.runtime = runtime
        self._ws_idle = runtime.Event()
        self._ws_idle.set()

    @property
    def async_mode(self) -> str:
        """The mode in use; while ``async_mode=None`` is undecided, the one :func:`~.modes.detect_mode`
        picks in the calling context (see :mod:`siothread.engine.modes`)."""
        return self._async_mode or detect_mode()

    # -- handlers -----------------------------------------------------------------
    def on(self, event: str, handler: Optional[Handler] = None) -> Any:
        """Register a handler; usable as ``@eio.on('message')`` or ``eio.on('message', fn)``."""
        if event not in _EVENTS:
            raise ValueError(f"unknown Engine.IO event {event!r}; expected one of {_EVENTS}")

        def register(fn: Handler) -> Handler:
            self.handlers[event] = fn
            if event == "message":
                self._on_message = fn
            return fn

        return register if handler is None else register(handler)

    def _trigger(self, event: str, *args: Any) -> Any:
        handler = self.handlers.get(event)
        if handler is None:
            return None
        try:
            return handler(*args)
        except Exception:
            self.logger.exception("error in the %s handler (sid %s)", event, args[0] if args else "-")
            return False if event == "connect" else None

    def _observe(self, what: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, what)(*args)
            except Exception:
                self.logger.exception("error in the %s observer", what)

    def _refused(self, reason: str, environ: dict) -> None:
        if self.observers:
            self._observe("handshake_refused", reason, environ)

    # -- public API ---------------------------------------------------------------
    def send(self, sid: str, data: Union[str, bytes]) -> bool:
        """Send one MESSAGE packet; False when the session is gone or the packet was dropped."""
        session = self.sessions.get(sid)
        if session is None:
            return False
        if isinstance(data, str):
            return session.send_text_packet("4" + data)
        return session.send_prepared(Prepared((bytes(data),)))

    def heard_from(self, sid: str) -> None:
        """Count the client as alive at its next PONG deadline.

        For a layer that holds back reading a client's data on purpose (its
        handlers are behind): the PONG may be waiting unread behind that data.
        """
        session = self.sessions.get(sid)
        if session is not None:
            session.heard = True

    def prepare(self, messages: Sequence[Union[str, bytes]], *, compress: bool = True) -> Prepared:
        """Encode MESSAGE payloads once, to hand to many sessions with :meth:`send_prepared`."""
        return Prepared(messages, compress=compress)

    def send_prepared(self, sid: str, prepared: Prepared, *, volatile: bool = False) -> bool:
        session = self.sessions.get(sid)
        if session is None:
            return False
        return session.send_prepared(prepared, volatile)

    def disconnect(self, sid: str, reason: str = Reason.SERVER) -> None:
        session = self.sessions.get(sid)
        if session is not None:
            session.close(reason)

    def transport(self, sid: str) -> str:
        session = self.sessions.get(sid)
        if session is None:
            raise KeyError("unknown session")
        return session.transport

    def protocol(self, sid: str) -> int:
        """The Engine.IO revision of a session: 4, or 3 for a legacy client (``allow_eio3``)."""
        session = self.sessions.get(sid)
        if session is None:
            raise KeyError("unknown session")
        return session.protocol

    def is_connected(self, sid: str) -> bool:
        return sid in self.sessions

    def has_session(self, sid: str) -> bool:
        """Whether requests for ``sid`` belong to this server (this process).

        True for an open session, and for a polling session closed by the server
        whose last payload still waits for the client's next GET. For a worker
        model that routes requests by sid across processes.
        """
        return sid in self.sessions or sid in self._last_polls

    def environ(self, sid: str) -> dict:
        session = self.sessions.get(sid)
        if session is None:
            raise KeyError("unknown session")
        return session.environ

    def queued(self, sid: str) -> int:
        """The backlog of a session (bytes on WebSocket, packets on polling); 0 when unknown."""
        session = self.sessions.get(sid)
        return session.queued if session is not None else 0

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.runtime.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        self.runtime.sleep(seconds)

    def stop_accepting(self) -> None:
        """Refuse new sessions from now on (the first step of a graceful shutdown)."""
        self._accepting = False

    def shutdown(self, timeout: float = 5.0, reason: str = Reason.SHUTDOWN) -> None:
        """Close every session (queued packets are flushed first) and wait for their connections to end.

        Returns within ``timeout``: sessions close concurrently, and a ``disconnect``
        handler still running at the deadline is killed, so an application handler that
        never returns cannot hold the process (row X2).
        """
        self.stop_accepting()
        rt = self.runtime
        deadline = rt.monotonic() + timeout
        closers = [rt.spawn(session.close, reason) for session in list(self.sessions.values())]
        if closers:
            rt.joinall(closers, timeout=timeout)
            rt.killall([g for g in closers if not g.dead], block=True, timeout=1.0)
        self._ws_idle.wait(max(0.0, deadline - rt.monotonic()))

    # -- request entry point ------------------------------------------------------
    def handle_request(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        """The WSGI entry point for requests under the Engine.IO path."""
        cfg = self.config
        problem = self.runtime.cannot_serve()
        if problem is not None:
            self._diag.once("cannot-serve", problem)
            return error_response(start_response, EngineErrorCode.BAD_REQUEST, 500, None,
                                  "async_mode does not match the WSGI server")
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_query(environ)
        allowed = origin_allowed(environ, cfg)
        if not allowed:
            self._diag.refused_origin(environ["HTTP_ORIGIN"])
        if method == "OPTIONS":
            if not allowed:
                return error_response(start_response, EngineErrorCode.FORBIDDEN, 403)
            start_response("204 No Content", preflight_headers(environ, cfg) + [("Content-Length", "0")])
            return []
        eio = query.get("EIO")
        if eio != "4" and (eio != "3" or not cfg.allow_eio3):
            return error_response(start_response, EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
        protocol = 4 if eio == "4" else 3
        transport = query.get("transport")
        if transport not in cfg.transports:
            return error_response(start_response, EngineErrorCode.UNKNOWN_TRANSPORT)
        sid = query.get("sid")
        if sid is not None and sid not in self.sessions and sid not in self._last_polls:
            # Several worker processes: the sid may belong to another one, which then serves
            # this connection from here on (siothread.serving.Handler._handoff).
            handoff = environ.get("siothread.handoff")
            if handoff is not None and handoff(sid):
                return []
        if transport == "websocket":
            return self._handle_websocket(environ, start_response, sid, allowed, protocol)
        if not allowed:
            if sid is None:
                self._refused("origin", environ)
            return error_response(start_response, EngineErrorCode.FORBIDDEN, 403)
        if sid is None:
            if method != "GET":
                return error_response(start_response, EngineErrorCode.BAD_HANDSHAKE_METHOD)
            return self._handshake_polling(environ, start_response, query, protocol)
        session = self._find_session(sid)
        if session is None:
            last = self._last_polls.pop(sid, None) if method == "GET" else None
            if last is not None:
                return polling.handle_get(self, last, environ, query, start_response)
            return error_response(start_response, EngineErrorCode.UNKNOWN_SID)
        if session.transport != "polling" or session.protocol != protocol:
            # conformance: "should ignore HTTP requests with same sid after upgrade"
            return error_response(start_response, EngineErrorCode.BAD_REQUEST)
        if method == "GET":
            return polling.handle_get(self, session, environ, query, start_response)
        if method == "POST":
            return polling.handle_post(self, session, environ, query, start_response)
        return error_response(start_response, EngineErrorCode.BAD_REQUEST)

    def _find_session(self, sid: str) -> Optional[Session]:
        """The open session ``sid`` of a request; one whose PONG is overdue is closed first."""
        session = self.sessions.get(sid)
        if session is not None and session.pong_overdue():
            session.close(Reason.PING_TIMEOUT)
            return None
        return session

    # -- handshake ----------------------------------------------------------------
    def _admission(self, environ: dict) -> Optional[tuple]:
        """None when a new session may open, else (code, status, message) to refuse with."""
        if not self._accepting:
            self._refused("shutting_down", environ)
            return EngineErrorCode.FORBIDDEN, 503, "Server is shutting down"
        if self.config.max_sessions is not None and len(self.sessions) >= self.config.max_sessions:
            self._refused("too_many_sessions", environ)
            return EngineErrorCode.FORBIDDEN, 503, "Too many sessions"
        hook = self.config.allow_request
        if hook is not None:
            try:
                verdict = hook(environ)
            except Exception:
                self.logger.exception("allow_request raised; refusing the request")
                verdict = False
            if verdict is False or isinstance(verdict, str):
                self._refused("allow_request", environ)
            if verdict is False:
                return EngineErrorCode.FORBIDDEN, 403, None
            if isinstance(verdict, str):
                return EngineErrorCode.FORBIDDEN, 403, verdict
        return None

    def _new_session(self, environ: dict, transport: str) -> Session:
        # Several worker processes: the prefix names this one (siothread.handoff).
        prefix = environ.get("siothread.sid_prefix", "")
        sid = prefix + secrets.token_urlsafe(15)
        while sid in self.sessions:  # pragma: no cover - 120 random bits
            sid = prefix + secrets.token_urlsafe(15)
        session = Session(self, sid, environ, transport)
        self.sessions[sid] = session
        return session

    def _open_segment(self, session: Session, transport: str) -> str:
        cfg = self.config
        upgrades: List[str] = []
        if (transport == "polling" and cfg.allow_upgrades and "websocket" in cfg.transports
                and can_hand_over(session.environ)):
            upgrades = ["websocket"]
        return "0" + open_packet_data(session.sid, upgrades, cfg.ping_interval, cfg.ping_timeout,
                                      cfg.max_http_buffer_size)

    def _cookie_headers(self, environ: dict, sid: str) -> list:
        cookie = self.config.cookie
        if cookie is None:
            return []
        parts = [f"{cookie['name']}={sid}", f"Path={cookie.get('path', '/')}"]
        if cookie.get("httpOnly", cookie.get("httponly", True)):
            parts.append("HttpOnly")
        parts.append(f"SameSite={cookie.get('sameSite', cookie.get('samesite', 'Lax'))}")
        if cookie.get("secure") or environ.get("wsgi.url_scheme") == "https":
            parts.append("Secure")
        if "maxAge" in cookie or "max_age" in cookie:
            parts.append(f"Max-Age={int(cookie.get('maxAge', cookie.get('max_age')))}")
        return [("Set-Cookie", "; ".join(parts))]

    def _handshake_polling(self, environ: dict, start_response: Callable[..., Any], query: dict,
                           protocol: int = 4) -> Any:
        jsonp = polling.jsonp_index(query)
        if jsonp == "":
            return error_response(start_response, EngineErrorCode.BAD_REQUEST, 400,
                                  cors_headers(environ, self.config))
        refusal = self._admission(environ)
        if refusal is not None:
            code, status, message = refusal
            return error_response(start_response, code, status, cors_headers(environ, self.config), message)
        session = self._new_session(environ, "polling")
        session.protocol = protocol
        session.send_text_packet(self._open_segment(session, "polling"))
        if self._trigger("connect", session.sid, environ) is False:
            self._refused("connect_handler", environ)
            self.sessions.pop(session.sid, None)
            session.state = State.CLOSED
            return error_response(start_response, EngineErrorCode.FORBIDDEN, 403,
                                  cors_headers(environ, self.config))
        session.start_heartbeat()
        pending = session.take_pending()
        if jsonp is not None:
            # JSONP handshake: the OPEN packet is wrapped like every later GET (polling-jsonp.ts).
            payload = legacy.jsonp_payload(pending) if protocol == 3 else SEPARATOR.join(pending)
            body, ctype = polling.jsonp_wrap(jsonp, payload), "text/javascript; charset=UTF-8"
        elif protocol == 3:
            body, ctype = legacy.polling_body(pending, query)
        else:
            body, ctype = SEPARATOR.join(pending).encode("utf-8"), "text/plain; charset=UTF-8"
        headers = [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        headers += cors_headers(environ, self.config) + self._cookie_headers(environ, session.sid)
        start_response("200 OK", headers)
        return [body]

    # -- WebSocket ----------------------------------------------------------------
    def _handle_websocket(self, environ: dict, start_response: Callable[..., Any], sid: Optional[str],
                          origin_ok: bool, protocol: int = 4) -> Any:
        acceptor = find_acceptor(environ, start_response)
        if acceptor is None:
            self._diag.once("no-handover", NO_HANDOVER)
            return error_response(start_response, EngineErrorCode.BAD_REQUEST)
        if isinstance(acceptor, TakeoverAcceptor):
            try:
                acceptor.validate()
            except RemoteProtocolError:
                return error_response(start_response, EngineErrorCode.BAD_REQUEST)
        if not origin_ok:
            # Cross-site WebSocket hijacking (CVE-2019-13611): refused before any session exists.
            if sid is None:
                self._refused("origin", environ)
            return acceptor.refuse(start_response, error_response(start_response, EngineErrorCode.FORBIDDEN, 403),
                                   CloseCode.POLICY_VIOLATION)
        if sid is None:
            refusal = self._admission(environ)
            if refusal is not None:
                code, status, message = refusal
                return acceptor.refuse(start_response, error_response(start_response, code, status, None, message),
                                       CloseCode.POLICY_VIOLATION if status == 403 else CloseCode.GOING_AWAY)
            return self._run_ws_session(environ, acceptor, protocol)
        session = self._find_session(sid)
        if session is None:
            return acceptor.refuse(start_response, error_response(start_response, EngineErrorCode.UNKNOWN_SID),
                                   CloseCode.POLICY_VIOLATION)
        if (session.transport != "polling" or session.state is not State.OPEN
                or not self.config.allow_upgrades or session.protocol != protocol):
            # A second WebSocket for an upgraded (or upgrading) sid: the first is unaffected.
            if self.observers:
                self._observe("upgrade", sid, "refused")
            return self._accept_then_close(acceptor)
        return self._run_upgrade(session, acceptor)

    def _accept_then_close(self, acceptor: Acceptor) -> Any:
        """Complete the WebSocket handshake, then close the connection at once.

        Node's refusal of an upgrade for a known sid that cannot take one (already
        upgraded, upgrading): ``server.ts`` ``onWebSocket()`` lets ``ws`` answer 101 and
        calls ``websocket.close()``. Refusals decided from the request alone (unknown
        transport or sid, a bad handshake, the Origin and ``allow_request`` checks) stay
        HTTP errors before the 101, as in ``verify()``. The close is the graceful one:
        the peer's answering close frame is read (bounded by the close timeout).
        """
        conn = acceptor.accept(self)
        conn.close_session_transport()
        self._ws_loop(conn)
        return acceptor.done(conn)

    def _ws_loop(self, conn: WebSocketConnection) -> Optional[str]:
        self._ws_loops += 1
        self._ws_idle.clear()
        try:
            return conn.run()
        finally:
            self._ws_loops -= 1
            if self._ws_loops == 0:
                self._ws_idle.set()

    def _run_ws_session(self, environ: dict, acceptor: Acceptor, protocol: int = 4) -> Any:
        conn = acceptor.accept(self)
        session = self._new_session(environ, "websocket")
        if protocol == 3:
            session.protocol = 3
            legacy.adopt(conn)
        session.ws = conn
        conn.session = session
        conn.write_text(self._open_segment(session, "websocket"))
        if self._trigger("connect", session.sid, environ) is False:
            self._refused("connect_handler", environ)
            self.sessions.pop(session.sid, None)
            session.state = State.CLOSED
            conn.abort(CloseCode.POLICY_VIOLATION)
            return acceptor.done(conn)
        session.start_heartbeat()
        conn.on_message = self._ws_message_handler(session)
        if acceptor.detachable:
            # The request's greenlet ends now; the session is read by a fresh greenlet whose
            # stack is a few frames deep instead of the whole WSGI call chain (what an idle
            # connection costs is mostly its one greenlet).
            self._ws_loops += 1
            self._ws_idle.clear()
            self.runtime.spawn(self._ws_session, session, conn, acceptor, True)
            return acceptor.detached()
        return self._ws_session(session, conn, acceptor)

    def _ws_session(self, session: Session, conn: WebSocketConnection, acceptor: Acceptor,
                    counted: bool = False) -> Any:
        if counted:
            try:
                reason = conn.run()
            finally:
                self._ws_loops -= 1
                if self._ws_loops == 0:
                    self._ws_idle.set()
        else:
            reason = self._ws_loop(conn)
        session.close(reason or Reason.TRANSPORT_CLOSE, notify_peer=False)
        return acceptor.done(conn)

    def _run_upgrade(self, session: Session, acceptor: Acceptor) -> Any:
        conn = acceptor.accept(self)
        if session.protocol == 3:
            legacy.adopt(conn)
        conn.session = session
        session.begin_upgrade(conn)

        def on_probe(data: Any) -> None:
            if data == "2probe":
                conn.write_text("3probe")
                # Out now, not with the loop pass's batch: a request answered meanwhile (the
                # client's GET, refused once "5" upgraded the session) must not overtake it.
                conn.flush_batched()
                session.wake_poll()  # a parked GET answers NOOP so the client can pause polling
            elif data == "5":
                if session.state is not State.UPGRADING or session.upgrade_ws is not conn:
                    conn.abort()
                    return
                session.complete_upgrade(conn)
                conn.on_message = self._ws_message_handler(session)
                if self.observers:
                    self._observe("upgrade", session.sid, "websocket")
            else:
                raise RemoteProtocolError("unexpected packet during the upgrade")

        def expire() -> None:
            if session.upgrade_ws is conn:
                session.abort_upgrade()
                conn.abort()
                if self.observers:
                    self._observe("upgrade", session.sid, "timeout")

        conn.on_message = on_probe
        timer = self.runtime.call_later(self.config.upgrade_timeout, expire)
        try:
            reason = self._ws_loop(conn)
        finally:
            timer.cancel()
        if session.ws is conn:
            session.close(reason or Reason.TRANSPORT_CLOSE, notify_peer=False)
        elif session.upgrade_ws is conn:
            session.abort_upgrade()
            if self.observers:
                self._observe("upgrade", session.sid, "failed")
        return acceptor.done(conn)

    # -- inbound packets ----------------------------------------------------------
    def _ws_message_handler(self, session: Session) -> Callable[[Any], None]:
        if session.protocol == 3:
            return lambda data: legacy.ws_message(session, data, self._on_message, self.session_packet)
        return lambda data: self._on_ws_message(session, data)

    def _on_ws_message(self, session: Session, data: Any) -> None:
        if type(data) is str:
            if data[:1] == "4" and SEPARATOR not in data:
                # decode_ws_text + session_packet below, for a lone MESSAGE; tests/engine/test_owner.py::
                # test_the_ws_text_fast_path_agrees_with_the_general_decoder keeps them equal
                self._on_message(session.sid, data[1:])
                return
            for packet in decode_ws_text(data, max_packets=self.config.max_packets_per_payload):
                self.session_packet(session, packet)
                if session.closed:
                    return
        else:
            self._on_message(session.sid, data)

    # -- what sessions and transports report (the SessionOwner interface) --------
    def session_packet(self, session: Session, packet: Packet) -> None:
        """A packet from the client (a polling POST, or a batched WebSocket text frame)."""
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            self._on_message(session.sid, packet.data if packet.data is not None else "")
        elif ptype is PacketType.PONG:
            session.on_pong()
        elif ptype is PacketType.PING:
            session.on_ping(packet.data)
        elif ptype is PacketType.CLOSE:
            # The client closed: a pending GET is released with a NOOP, not answered with a
            # CLOSE of our own (conformance "forcefully closes the session").
            session.close(Reason.TRANSPORT_CLOSE, notify_peer=False)
        # NOOP, UPGRADE and OPEN from a client carry nothing for us.

    def session_closing(self, session: Session) -> None:
        """The session starts closing: requests for its sid no longer reach it."""
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]

    def keep_last_poll(self, session: Session) -> None:
        """Keep a closed polling session's last payload for the client's next GET.

        Node keeps a closing socket until its buffer drained (``socket.ts`` ``close()``);
        without this, a server-side disconnect with no GET parked lost the queued packets
        and the CLOSE, and the client saw an unknown sid (a transport error) instead.
        """
        self._last_polls[session.sid] = session
        cfg = self.config
        self.runtime.call_later(cfg.ping_interval + cfg.ping_timeout, self._drop_last_poll, session)

    def _drop_last_poll(self, session: Session) -> None:
        if self._last_polls.get(session.sid) is session:
            del self._last_polls[session.sid]

    def session_closed(self, session: Session, reason: str) -> None:
        """The session is closed: run the application's ``disconnect`` handler."""
        self._trigger("disconnect", session.sid, reason)

    def session_overflow(self, session: Session) -> bool:
        """Apply the overflow policy; called from write paths, so it never blocks. Returns False.

        Reported once per overflow episode (until the backlog drains): a peer that never
        reads must not turn every dropped packet into a log line and a greenlet (E12).
        """
        if session.overflowed:
            return False
        session.overflowed = True
        policy = self.config.overflow
        if self.observers:
            self._observe("overflow", session.sid, policy)
        self.logger.warning("%s: outbound queue full, policy %s", session.sid, policy)
        if "overflow" in self.handlers:
            self.runtime.spawn(self._trigger, "overflow", session.sid, policy)
        if policy == "disconnect" and not session.closed:
            self.runtime.spawn(session.close, Reason.SLOW_CONSUMER)
        return False
