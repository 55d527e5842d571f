"""Accepting a WebSocket under each supported server, without a switch in the application.

Three ways a WebSocket request reaches the engine:

1. gevent-websocket's ``WebSocketHandler`` (plain pywsgi or gunicorn's
   ``GeventWebSocketWorker``) has already answered 101 and put its WebSocket
   object in ``environ['wsgi.websocket']``. We read frames from the handler's
   buffered reader ourselves and write to its socket.
2. siothread's own handler (:func:`siothread.serve`) offers
   ``environ['siothread.takeover']``: we validate the request, apply the Origin
   policy *before* upgrading (a refused origin gets an HTTP 403), write the 101
   ourselves (with permessage-deflate when enabled) and own the socket.
3. gunicorn (``-k gevent`` or ``-k gthread``) exposes ``environ['gunicorn.socket']``:
   the same as 2; afterwards ``StopIteration`` tells gunicorn the connection
   was handled (the convention python-engineio uses too).
4. Werkzeug's dev server exposes ``environ['werkzeug.socket']``: the same as 2;
   afterwards the connection is shut down and Werkzeug's own (empty) response
   goes nowhere.
5. uWSGI hands over its connection's descriptor (``uwsgi.connection_fd()``):
   the same as 2 on a duplicate of it; afterwards ``uwsgi.disconnect()``.

The runtime turns the handed-over socket into what the WebSocket transport
reads and writes (``runtime.wrap_socket``: a gevent socket, or a non-blocking
socket read without the threading runtime's lock).
"""
from __future__ import annotations

import abc
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from ..protocol import websocket as wsproto
from .websocket import WebSocketConnection

if TYPE_CHECKING:  # pragma: no cover
    from .owner import SessionOwner

__all__ = ["Acceptor", "find_acceptor", "can_hand_over"]


def _request_headers(environ: dict) -> dict:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    return headers


class Acceptor(abc.ABC):
    """How to complete (or refuse) the WebSocket handshake for one request."""

    mode = "abstract"
    handshake_done = False
    #: the request may return while the connection lives on (its socket is ours alone)
    detachable = False

    def __init__(self, environ: dict) -> None:
        self.environ = environ

    def refuse(self, start_response: Callable[..., Any], response: Any, close_code: int) -> Any:
        """Refuse the request: an HTTP error while we still can, else a close frame."""
        return response

    @abc.abstractmethod
    def accept(self, owner: "SessionOwner") -> WebSocketConnection:
        """Complete the handshake and wrap the socket."""

    def done(self, conn: Optional[WebSocketConnection]) -> Any:
        """What the WSGI application returns once the connection has ended."""
        return []

    def detached(self) -> Any:
        """What the WSGI application returns when the connection outlives the request."""
        return []


class GeventWebSocketAcceptor(Acceptor):
    mode = "gevent-websocket"
    handshake_done = True

    def __init__(self, environ: dict) -> None:
        super().__init__(environ)
        self.ws = environ["wsgi.websocket"]

    def _socket(self) -> Tuple[Any, Any]:
        handler = self.ws.handler
        return handler.socket, handler.rfile

    def refuse(self, start_response: Callable[..., Any], response: Any, close_code: int) -> Any:
        gsock, _ = self._socket()
        try:
            gsock.sendall(wsproto.encode_close(close_code))
        except OSError:
            pass
        self.ws.closed = True
        return []

    def accept(self, owner: "SessionOwner") -> WebSocketConnection:
        gsock, rfile = self._socket()
        return WebSocketConnection(owner, gsock, drain_buffered(gsock, rfile))

    def done(self, conn: Optional[WebSocketConnection]) -> Any:
        # We already sent (or answered) the close frame; keep gevent-websocket from sending another.
        self.ws.closed = True
        return []


class TakeoverAcceptor(Acceptor):
    """Modes 2 and 3: we own the handshake."""

    def __init__(self, environ: dict, get_socket: Callable[[], Tuple[Any, Any]], mode: str,
                 start_response: Optional[Callable[..., Any]] = None) -> None:
        super().__init__(environ)
        self._start_response = start_response
        self._get_socket = get_socket
        self.mode = mode
        self.key: Optional[str] = None
        # siothread's handler forgets the socket once it is taken over (serving.Handler._takeover)
        self.detachable = mode == "siothread"

    def validate(self) -> None:
        """Raise RemoteProtocolError (HTTP 400) for a malformed upgrade request."""
        self.key = wsproto.check_upgrade_request(
            self.environ.get("REQUEST_METHOD", "GET"), _request_headers(self.environ)
        )

    def accept(self, owner: "SessionOwner") -> WebSocketConnection:
        assert self.key is not None
        deflate = None
        extensions = None
        if owner.config.websocket_compression:
            offer = self.environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS")
            if offer:
                # No context takeover on our side: a compressor per message instead of ~256 KiB of
                # zlib state per connection, and output that does not depend on earlier messages.
                negotiated = wsproto.PerMessageDeflate(server_no_context_takeover=True).negotiate(offer)
                if negotiated is not None:
                    extensions, deflate = negotiated
        gsock, rfile = self._get_socket()
        gsock = owner.runtime.wrap_socket(gsock)
        # The session keeps the environ (and the session's greenlet this acceptor): neither may
        # keep the request's handler and its reader objects alive for the connection's life.
        self._get_socket = _taken
        self.environ.pop("siothread.takeover", None)
        if rfile is not None:
            self.environ["wsgi.input"] = _NO_BODY
        lines = ["HTTP/1.1 101 Switching Protocols"]
        lines.extend(f"{k}: {v}" for k, v in wsproto.response_headers(self.key, extensions=extensions))
        gsock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        prefix = drain_buffered(gsock, rfile)
        if rfile is not None:
            # Our handler's reader is done for good: free its 8 KiB buffer now rather than
            # hold it for the connection's life (it only drops a reference on the socket).
            try:
                rfile.close()
            except (OSError, ValueError):
                pass
        gsock.settimeout(None)  # liveness is the heartbeat's job from here on
        return WebSocketConnection(owner, gsock, prefix, deflate=deflate)

    def done(self, conn: Optional[WebSocketConnection]) -> Any:
        if self.mode == "werkzeug":
            # Werkzeug closes its socket itself after the application returned; the
            # response it writes then meets a shut-down socket, which it ignores.
            if conn is not None:
                conn._shutdown()
                restore = getattr(conn._gsock, "restore_blocking", None)
                if restore is not None:
                    restore()
            self._start_response("200 OK", [("Content-Length", "0")])
            return []
        if conn is not None:
            conn.finish()
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "uwsgi":
            sys.modules["uwsgi"].disconnect()
        return []


class _NoBody:
    """``wsgi.input`` of a request whose connection became a WebSocket: it has no body."""

    def read(self, *args: Any) -> bytes:
        return b""

    def readline(self, *args: Any) -> bytes:
        return b""

    def readlines(self, *args: Any) -> list:
        return []

    def __iter__(self) -> Any:
        return iter(())


_NO_BODY = _NoBody()


def _taken() -> Tuple[Any, Any]:
    raise RuntimeError("the connection was already taken over")


def drain_buffered(gsock: Any, rfile: Any) -> bytes:
    """Bytes a buffered reader already took off the socket (normally none: a client
    waits for the 101 before it sends frames). From here on the socket is read directly."""
    if rfile is None:
        return b""
    timeout = gsock.gettimeout()
    gsock.settimeout(0.0)
    try:
        data = rfile.read1(65536)
    except (OSError, ValueError):
        data = b""
    finally:
        gsock.settimeout(timeout)
    return bytes(data or b"")


def _uwsgi_socket() -> Tuple[Any, Any]:
    """A socket on a duplicate of uWSGI's connection descriptor (uWSGI keeps and closes its own)."""
    import socket

    fd = sys.modules["uwsgi"].connection_fd()
    return socket.socket(fileno=os.dup(fd)), None


def find_acceptor(environ: dict, start_response: Optional[Callable[..., Any]] = None) -> Optional[Acceptor]:
    """The acceptor for this server, or None when the server cannot carry WebSockets."""
    if environ.get("wsgi.websocket") is not None:
        return GeventWebSocketAcceptor(environ)
    takeover = environ.get("siothread.takeover")
    if takeover is not None:
        return TakeoverAcceptor(environ, takeover, "siothread")
    gsock = environ.get("gunicorn.socket")
    if gsock is not None:
        return TakeoverAcceptor(environ, lambda: (gsock, None), "gunicorn")
    wsock = environ.get("werkzeug.socket")
    if wsock is not None:
        return TakeoverAcceptor(environ, lambda: (wsock, None), "werkzeug", start_response)
    if "uwsgi.version" in environ and hasattr(sys.modules.get("uwsgi"), "connection_fd"):
        return TakeoverAcceptor(environ, _uwsgi_socket, "uwsgi")
    return None



#: environ keys of the servers that hand a connection over (read by :func:`find_acceptor`)
_HANDOVER_KEYS = ("wsgi.websocket", "siothread.takeover", "gunicorn.socket", "werkzeug.socket", "uwsgi.version")


def can_hand_over(environ: dict) -> bool:
    """Whether the server of this (polling) request could carry a WebSocket later.

    The handshake offers the upgrade only then: waitress, mod_wsgi or wsgiref cannot
    give the application the connection, and a client that tried would only get a 400.
    gevent's pywsgi counts: with gevent-websocket's handler it sets ``wsgi.websocket``
    on upgrade requests only.
    """
    for key in _HANDOVER_KEYS:
        if key in environ:
            return True
    return str(environ.get("SERVER_SOFTWARE", "")).startswith("gevent")
