"""WSGIApp: one WSGI application for Socket.IO / Engine.IO, static files and the rest of the site.

Requests under ``/<socketio_path>/`` go to the server (a :class:`siothread.Server`
or a :class:`siothread.engine.Server`); everything else goes to ``static_files``
or ``other_wsgi_app`` (a Flask app, say), else 404. The same object runs under
siothread's :func:`~siothread.serving.serve`, plain gevent ``pywsgi`` with
gevent-websocket's handler, and gunicorn with the stock ``gevent`` worker or
gevent-websocket's worker, with no switch.
"""
from __future__ import annotations

import mimetypes
import os
import socket
from typing import Any, Callable, Iterable, Mapping, Optional, Union

__all__ = ["WSGIApp", "Middleware"]

StaticSpec = Union[str, Mapping[str, Any]]


def _echo_close(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """``start_response`` that answers ``Connection: close`` to a request that asked for it.

    RFC 9112 section 9.6: the server closes such a connection after the response and
    should say so. gevent's pywsgi (and with it gevent-websocket's handler and worker)
    closes without saying so, and Node's keep-alive agent (the default since Node 19)
    then sends the client's next request on the closing socket ("socket hang up"; node-fetch
    sends ``Connection: close`` on every request). siothread's server and gunicorn say it
    themselves; gunicorn drops the header from the application, and PEP 3333 servers
    (waitress, Werkzeug) refuse hop-by-hop headers from it: only pywsgi gets it.
    """

    def respond(status: str, headers: list, exc_info: Any = None) -> Any:
        if not any(name.lower() == "connection" for name, _ in headers):
            headers = list(headers) + [("Connection", "close")]
        return start_response(status, headers, exc_info) if exc_info is not None else start_response(status, headers)

    return respond


class WSGIApp:
    """Route Engine.IO requests to ``server``; serve static files; delegate the rest.

    Args:
        server: anything with ``handle_request(environ, start_response)``.
        other_wsgi_app: the application for every other path.
        socketio_path: the mount point, ``"socket.io"`` like every client's default.
        static_files: ``{"/": "index.html", "/static": "dir/"}``; a value may also be
            ``{"filename": ..., "content_type": ...}``. Directories serve files below
            them only: paths with ``..`` or absolute parts are refused. python-socketio's
            positional order ``WSGIApp(sio, app, static_files, socketio_path)`` works too.
    """

    def __init__(self, server: Any, other_wsgi_app: Optional[Callable[..., Any]] = None,
                 socketio_path: Any = "socket.io", static_files: Optional[Mapping[str, StaticSpec]] = None) -> None:
        if not isinstance(socketio_path, str):
            # python-socketio's positional order: (socketio_app, wsgi_app, static_files, socketio_path)
            socketio_path, static_files = (static_files if isinstance(static_files, str) else "socket.io",
                                           socketio_path)
        self.server = server
        self.other_wsgi_app = other_wsgi_app
        path = socketio_path.strip("/")
        self._prefix = "/" + path + "/"
        self._exact = "/" + path
        self.static_files = dict(static_files or {})

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        if path.startswith(self._prefix) or path == self._exact:
            gsock = environ.get("gunicorn.socket")
            if gsock is not None:
                # gunicorn writes headers and body separately; without NODELAY every
                # polling response waits for a delayed ACK.
                try:
                    gsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except (OSError, AttributeError):
                    pass
            if ("close" in environ.get("HTTP_CONNECTION", "").lower() and environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
                    and str(environ.get("SERVER_SOFTWARE", "")).startswith("gevent")):
                start_response = _echo_close(start_response)
            return self.server.handle_request(environ, start_response)  # type: ignore[no-any-return]
        if self.static_files:
            found = self._static(path)
            if found is not None:
                return self._serve_file(found, start_response)
        if self.other_wsgi_app is not None:
            return self.other_wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        return self._not_found(start_response)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Graceful shutdown of the wrapped server (used by :func:`siothread.serve`)."""
        target = getattr(self.server, "shutdown", None)
        if callable(target):
            target(timeout)

    # -- static files -------------------------------------------------------------
    def _static(self, path: str) -> Optional[tuple]:
        for url, spec in sorted(self.static_files.items(), key=lambda kv: -len(kv[0])):
            if isinstance(spec, Mapping):
                filename, ctype = spec.get("filename"), spec.get("content_type")
            else:
                filename, ctype = spec, None
            if not isinstance(filename, str):
                continue
            if path == url and not filename.endswith("/"):
                return filename, ctype
            base = url.rstrip("/") + "/"
            if path.startswith(base) and (filename.endswith("/") or os.path.isdir(filename)):
                rest = path[len(base):] or "index.html"
                parts = rest.split("/")
                if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
                    return None
                return os.path.join(filename, *parts), ctype
        return None

    def _serve_file(self, found: tuple, start_response: Callable[..., Any]) -> Iterable[bytes]:
        filename, ctype = found
        try:
            with open(filename, "rb") as f:
                body = f.read()
        except OSError:
            return self._not_found(start_response)
        ctype = ctype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _not_found(start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = b"Not Found"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


class Middleware(WSGIApp):
    """python-socketio's older name for :class:`WSGIApp` (deprecated there, kept for migrations).

    ``Middleware(sio, wsgi_app, socketio_path)``: the same positional order as python-socketio.
    """

    def __init__(self, socketio_app: Any, wsgi_app: Optional[Callable[..., Any]] = None,
                 socketio_path: str = "socket.io") -> None:
        super().__init__(socketio_app, wsgi_app, socketio_path=socketio_path)
