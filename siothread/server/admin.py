"""Instrumentation for the official Socket.IO Admin UI (``@socket.io/admin-ui``).

The dashboard is a Socket.IO client that connects to the admin namespace
(``/admin``) with ``auth = {username, password}`` (or a ``sessionId`` it was given
earlier) and expects the events the Node package emits: ``session``,
``config``, ``all_sockets``, ``server_stats`` (every ``server_stats_interval``
seconds, with ``aggregatedEvents``), ``socket_connected``, ``socket_updated``,
``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received``,
``event_sent``; it may send ``emit``, ``join``, ``leave`` and ``_disconnect``.
Reference: ``socketio/socket.io-admin-ui: lib/index.ts`` (0.5.x) and
python-socketio's ``admin.py`` for the Python-side option names.

The server reports to this object through the :class:`~siothread.observer.Observer`
calls, which cost nothing when the server is not instrumented. Credentials are
checked by :class:`~.admin_auth.CredentialsCheck` (bcrypt hashes).

The dashboard itself (``ui/dist`` of the npm package) is a static site:
:func:`dashboard_files` serves it from the same server, see ``docs/operations.md``.
"""
from __future__ import annotations

import os
import secrets
import socket as _socket
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set
from urllib.parse import parse_qsl

from ..errors import ConnectionRefusedError
from ..observer import Observer, attach
from .admin_auth import CredentialsCheck
from .socket import Socket, SocketState

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["Instrumentation", "dashboard_files"]

_FEATURES_WRITE = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Session data as the dashboard can show it (non-JSON values become their repr)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 8:
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, depth + 1) for v in value]
    return repr(value)


class _EventBuffer:
    """Counts per second and type, flushed into ``server_stats.aggregatedEvents``."""

    def __init__(self) -> None:
        self.buffer: Dict[str, Dict[str, Any]] = {}

    def push(self, kind: str, count: int = 1, sub_type: Optional[str] = None) -> None:
        timestamp = int(time.time()) * 1000
        key = f"{timestamp};{kind};{sub_type or ''}"
        entry = self.buffer.get(key)
        if entry is None:
            entry = {"timestamp": timestamp, "type": kind, "count": 0}
            if sub_type is not None:
                entry["subType"] = sub_type
            self.buffer[key] = entry
        entry["count"] += count

    def take(self) -> List[Dict[str, Any]]:
        values = list(self.buffer.values())
        self.buffer = {}
        return values


def dashboard_files(dist_dir: str, url: str = "/admin") -> Dict[str, str]:
    """``static_files`` for :class:`siothread.WSGIApp` that serve the Admin UI's built site.

    ``dist_dir`` is the ``ui/dist`` folder of the npm package ``@socket.io/admin-ui``
    (``npm install @socket.io/admin-ui@0.5.1``); the dashboard is then at
    ``<url>/`` (with the slash) on the same origin as the server, so it needs no CORS set-up.
    """
    index = os.path.join(dist_dir, "index.html")
    if not os.path.isfile(index):
        raise FileNotFoundError(f"{index} not found: dist_dir must be the ui/dist folder of @socket.io/admin-ui")
    return {"/" + url.strip("/"): dist_dir.rstrip("/") + "/"}


class Instrumentation(Observer):
    """Created by :meth:`Server.instrument`; stop it with :meth:`shutdown` (or ``sio.shutdown``)."""

    def __init__(self, sio: "Server", *, auth: Any, mode: str = "development", read_only: bool = False,
                 server_id: Optional[str] = None, namespace: str = "/admin",
                 server_stats_interval: float = 2, allow_plain_password: bool = False) -> None:
        if auth is None:
            raise ValueError("auth must be given: credentials, a check function, or False to disable it")
        if not (auth is False or isinstance(auth, (dict, list)) or callable(auth)):
            raise TypeError("auth must be False, a dict, a list of dicts or a callable")
        self._check = (None if auth is False else
                       CredentialsCheck(auth, allow_plain_password=allow_plain_password, runtime=sio.runtime))
        if mode not in ("development", "production"):
            raise ValueError("mode must be 'development' or 'production'")
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError("namespace must be a namespace name such as '/admin'")
        self.sio = sio
        self.auth = auth
        self.mode = mode
        self.read_only = read_only
        self.namespace = namespace
        self.server_id = server_id or _socket.gethostname()
        self.interval = float(server_stats_interval)
        self.started = time.time()
        self.events = _EventBuffer()
        self._sessions: Set[str] = set()
        self._stats_task: Any = None
        self._verbose = mode == "development"

        features = [] if read_only else list(_FEATURES_WRITE)
        features.append("AGGREGATED_EVENTS")
        if self._verbose:
            features.append("ALL_EVENTS")
        self.features = features

        ns = namespace
        if auth is not False:
            sio.use(self._authenticate, namespace=ns)
        sio.on("connect", self._admin_connect, namespace=ns)
        if not read_only:
            sio.on("emit", self._admin_emit, namespace=ns)
            sio.on("join", self._admin_join, namespace=ns)
            sio.on("leave", self._admin_leave, namespace=ns)
            sio.on("_disconnect", self._admin_disconnect, namespace=ns)
        attach(sio, self)
        if self._verbose:
            sio.on_outgoing(self._outgoing)
            sio.manager.add_room_listener(self._room_event)

    # -- authentication ------------------------------------------------------
    def _credentials_ok(self, given: Dict[str, Any]) -> bool:
        return self._check is not None and self._check(given)

    def _authenticate(self, sid: str, environ: dict, auth: Dict[str, Any]) -> None:
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and session_id in self._sessions:
            return
        if not self._credentials_ok({k: v for k, v in auth.items() if k != "sessionId"}):
            raise ConnectionRefusedError("invalid credentials")
        session_id = secrets.token_hex(8)
        if len(self._sessions) > 1000:
            self._sessions.clear()
        self._sessions.add(session_id)
        self.sio.emit("session", session_id, to=sid, namespace=self.namespace)

    # -- admin namespace handlers --------------------------------------------
    def _admin_connect(self, sid: str, environ: dict, auth: Dict[str, Any]) -> None:
        self.sio.emit("config", {"supportedFeatures": self.features}, to=sid, namespace=self.namespace)
        if self._verbose:
            # Node runs this after the socket is connected: the dashboard's own socket is listed
            sockets = [s for s in list(self.sio._sockets.values())
                       if s.state == SocketState.CONNECTED or s.sid == sid]
            self.sio.emit("all_sockets", [self._serialize(s) for s in sockets], to=sid, namespace=self.namespace)

    def _admin_emit(self, sid: str, nsp: str, room_filter: Any, event: str, *args: Any) -> None:
        op = self.sio.of(nsp)
        if room_filter:
            op = op.to(room_filter)
        op.emit(event, *args)

    def _admin_join(self, sid: str, nsp: str, room: str, room_filter: Any = None) -> None:
        self.sio.sockets_join(room, to=room_filter or None, namespace=nsp)

    def _admin_leave(self, sid: str, nsp: str, room: str, room_filter: Any = None) -> None:
        self.sio.sockets_leave(room, to=room_filter or None, namespace=nsp)

    def _admin_disconnect(self, sid: str, nsp: str, close: Any, room_filter: Any = None) -> None:
        self.sio.disconnect_sockets(to=room_filter or None, namespace=nsp, close=bool(close))

    # -- reports -------------------------------------------------------------
    def _emit(self, event: str, *args: Any) -> None:
        self.sio.of(self.namespace).emit(event, *args)

    def _transport(self, sock: Socket) -> str:
        try:
            return self.sio.eio.transport(sock.eio_sid)
        except KeyError:
            return "unknown"

    def _serialize(self, sock: Socket) -> Dict[str, Any]:
        environ = sock.client.environ
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        address = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") or environ.get("REMOTE_ADDR", "")
        qs = environ.get("QUERY_STRING", "")
        issued = sock.client.connected_at
        return {
            "id": sock.sid,
            "clientId": sock.eio_sid[:12],
            "transport": self._transport(sock),
            "nsp": sock.namespace,
            "data": _jsonable(sock.session),
            "handshake": {
                "address": address,
                "headers": headers,
                "query": dict(parse_qsl(qs, keep_blank_values=True)),
                "issued": int(issued * 1000),
                "secure": environ.get("wsgi.url_scheme") == "https",
                "time": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(issued)),
                "url": environ.get("PATH_INFO", "") + ("?" + qs if qs else ""),
                "xdomain": "HTTP_ORIGIN" in environ,
            },
            "rooms": self.sio.manager.get_rooms(sock.namespace, sock.sid),
        }

    def stats(self) -> Dict[str, Any]:
        """The ``server_stats`` payload."""
        sio = self.sio
        names = set(sio._registry.static) | set(sio.manager.get_namespaces()) | {"/"}
        polling = 0
        for eio_sid in list(sio._clients):
            try:
                if sio.eio.transport(eio_sid) == "polling":
                    polling += 1
            except KeyError:
                continue
        return {
            "serverId": self.server_id,
            "hostname": _socket.gethostname(),
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "clientsCount": len(sio._clients),
            "pollingClientsCount": polling,
            "aggregatedEvents": self.events.take(),
            "namespaces": [
                {"name": name, "socketsCount": sum(1 for _ in sio.manager.get_participants(name, None))}
                for name in sorted(names)
            ],
        }

    def _stats_loop(self) -> None:
        while True:
            self._emit("server_stats", self.stats())
            self.sio.sleep(self.interval)

    def shutdown(self) -> None:
        """Stop the periodic ``server_stats`` task."""
        task, self._stats_task = self._stats_task, None
        if task is not None:
            task.kill(block=True, timeout=1.0)

    # -- observer interface (called by the server) ---------------------------
    def raw_connection(self, eio_sid: str) -> None:
        self.events.push("rawConnection")
        if self._stats_task is None and not self.sio._closing:
            self._stats_task = self.sio.start_background_task(self._stats_loop)

    def raw_disconnection(self, eio_sid: str, reason: str) -> None:
        self.events.push("rawDisconnection", sub_type=reason)

    def packet_in(self, nbytes: int, namespace: str) -> None:
        self.events.push("packetsIn")
        self.events.push("bytesIn", nbytes)

    def packet_out(self, nbytes: int, namespace: str) -> None:
        self.events.push("packetsOut")
        self.events.push("bytesOut", nbytes)

    def upgrade(self, eio_sid: str, outcome: str) -> None:
        """Node emits ``socket_updated`` with the new transport for each socket of the connection."""
        if not self._verbose or outcome != "websocket":
            return
        client = self.sio._clients.get(eio_sid)
        if client is None:
            return
        for sock in list(client.sockets.values()):
            self._emit("socket_updated", {"id": sock.sid, "nsp": sock.namespace, "transport": "websocket"})

    def socket_connected(self, sock: Socket) -> None:
        if self._verbose:
            self._emit("socket_connected", self._serialize(sock), _now_iso())

    def socket_disconnected(self, sock: Socket, reason: str) -> None:
        if self._verbose:
            self._emit("socket_disconnected", sock.namespace, sock.sid, reason, _now_iso())

    def event_received(self, sock: Socket, event: str, args: List[Any]) -> None:
        if self._verbose and sock.namespace != self.namespace:
            self._emit("event_received", sock.namespace, sock.sid, [event, *args], _now_iso())

    def _outgoing(self, sid: str, namespace: str, event: str, args: List[Any]) -> None:
        if namespace != self.namespace:
            self._emit("event_sent", namespace, sid, [event, *args], _now_iso())

    def _room_event(self, kind: str, namespace: str, room: str, sid: str) -> None:
        self._emit("room_joined" if kind == "join" else "room_left", namespace, room, sid, _now_iso())

