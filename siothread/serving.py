"""Running siothread on gevent's WSGI server, hardened.

gevent's ``pywsgi`` sets no read timeouts at all (gevent ``pywsgi.py`` has only
``MAX_REQUEST_LINE``), so a slowloris client could hold a greenlet and a file
descriptor forever. :class:`Handler` adds:

- a header timeout: the request line and headers must arrive within
  ``header_timeout`` seconds (a total deadline, not per ``recv``);
- an idle timeout between keep-alive requests;
- ``TCP_NODELAY`` and headers + body in one ``send``: pywsgi writes them in two,
  which with Nagle and delayed ACKs stalls every long-polling response ~40 ms;
- WebSocket takeover: the engine writes the 101 itself (after its Origin check,
  with optional permessage-deflate) and owns the socket from then on.

Body timeouts are enforced by the engine while it reads a body, so they hold
under any server.
"""
from __future__ import annotations

import signal
import socket
import sys
from typing import Any, Dict, List, Optional, Set, Tuple

import gevent
import gevent.event
from gevent import pywsgi

__all__ = ["Handler", "make_server", "serve"]


#: The most unread request body bytes discarded to keep a connection alive (see
#: ``Handler._drop_unread_body``); past that the connection is closed instead.
_DISCARD_LIMIT = 65536


class HeaderTimeout(Exception):
    """The request line and headers did not arrive in time."""


#: The limits of ``http.client.parse_headers``, which pywsgi uses by default.
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100


class _Headers:
    """Request headers read straight off the buffered socket, for pywsgi's handler.

    pywsgi parses headers with ``http.client.parse_headers`` (the ``email``
    package): about a third of the server's CPU per long-polling round trip.
    This offers the subset of that object pywsgi uses (``get``, ``getheader``,
    ``typeheader``, ``headers``, ``status``, ``del``) with the same limits. A
    line without a colon makes the request invalid (400).
    """

    __slots__ = ("headers", "_first", "status")

    def __init__(self, rfile: Any) -> None:
        self.status = ""
        lines: List[str] = []
        first: Dict[str, str] = {}
        if rfile is None:  # the empty instance
            self.headers, self._first = lines, first
            return
        readline = rfile.readline
        while True:
            raw = readline(_MAX_HEADER_LINE + 1)
            if len(raw) > _MAX_HEADER_LINE:
                self.status = "Line too long"
                break
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(lines) >= _MAX_HEADERS:
                self.status = "Too many headers"
                break
            line = raw.decode("latin-1")
            if line[0] not in " \t":
                name, sep, value = line.partition(":")
                if not sep:
                    self.status = "Invalid header line"
                    break
                key = name.lower()
                if key not in first:
                    first[key] = value.lstrip(" \t").rstrip("\r\n")
            elif not lines:
                self.status = "Invalid header line"
                break
            lines.append(line)
        self.headers = lines
        self._first = first

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> Optional[str]:
        return self._first.get("content-type")

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        if key not in self._first:
            raise KeyError(name)
        del self._first[key]
        kept: List[str] = []
        dropping = False
        for line in self.headers:
            if line[0] in " \t":
                if not dropping:
                    kept.append(line)
                continue
            dropping = line.partition(":")[0].lower() == key
            if not dropping:
                kept.append(line)
        self.headers = kept


_NO_HEADERS = _Headers(None)


class Handler(pywsgi.WSGIHandler):
    """pywsgi's handler with timeouts, one-send responses and WebSocket takeover."""

    _header_timer: Optional[gevent.Timeout] = None
    _served = 0
    _detached = False

    def MessageClass(self, rfile: Any, *args: Any) -> _Headers:  # noqa: N802 - pywsgi's name
        return _Headers(rfile)

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        try:
            super().handle()
        except HeaderTimeout:
            pass  # the base class's finally closed the socket

    def read_requestline(self) -> str:
        server = self.server
        limit = server.header_timeout if self._served == 0 else server.idle_timeout + server.header_timeout
        self._header_timer = gevent.Timeout.start_new(limit, HeaderTimeout)
        try:
            line: str = super().read_requestline()
        except BaseException:
            self._cancel_header_timer()
            raise
        return line

    def read_request(self, raw_requestline: str) -> Any:
        try:
            return super().read_request(raw_requestline)
        finally:
            self._cancel_header_timer()
            self._served += 1

    def _cancel_header_timer(self) -> None:
        timer = self._header_timer
        if timer is not None:
            timer.close()
            self._header_timer = None

    def get_environ(self) -> dict:
        environ: dict = super().get_environ()
        environ["siothread.takeover"] = self._takeover
        return environ

    def _takeover(self) -> Tuple[Any, Any]:
        """Hand the connection to the application (WebSocket): its socket and buffered reader.
        Nothing more is written here."""
        self._detached = True
        self.close_connection = True
        # From now on the engine owns the socket and closes it: neither this handler nor the
        # server may (the connection can outlive this request's greenlet).
        # Keyed by file descriptor: under TLS the server closes the plain socket under the
        # TLS wrapper this handler holds, and both share the descriptor.
        self.server._detached.add(self.socket.fileno())
        # The environ has what the application needs; the parsed lines would live as long as
        # the connection otherwise (this handler's frame stays on the stack until it ends).
        self.headers = _NO_HEADERS
        return self.socket, self.rfile

    def process_result(self) -> None:
        if self._detached:
            self.socket = None  # pywsgi's handle() would drain and close it
            return
        super().process_result()

    def run_application(self) -> None:
        try:
            super().run_application()
        finally:
            self._drop_unread_body()

    def _drop_unread_body(self) -> None:
        """Never wait without a deadline for a request body the application left unread.

        After the response, pywsgi reads the rest of the body to reuse the
        connection, with no timeout: a client that declared 10 MB (and got its
        413) or stalled (and got its 408) would pin this greenlet and its fd
        for as long as it liked (rows E5, E14). A short remainder is still
        discarded, within ``header_timeout``, so keep-alive survives a small
        refused POST; otherwise the connection is closed.
        """
        inp = self.wsgi_input
        if inp is None or self._detached:
            return
        if self.close_connection:  # the application answered "Connection: close"
            inp._chunked_input_error = True
            return
        if inp.chunked_input:
            if inp.chunk_length == 0:  # the terminating chunk was read
                return
        else:
            left = (inp.content_length or 0) - inp.position
            if left <= 0:
                return
            if left <= _DISCARD_LIMIT:
                timer = gevent.Timeout.start_new(self.server.header_timeout)
                try:
                    inp._discard()
                    return
                except gevent.Timeout as exc:
                    if exc is not timer:
                        raise
                except OSError:
                    pass
                finally:
                    timer.close()
        # pywsgi's own flag for "the input is in an unknown state": its discard skips it.
        inp._chunked_input_error = True
        self.close_connection = True

    def log_request(self) -> None:
        # pywsgi formats the access-log line even when the log discards it.
        if not self._detached and not isinstance(self.server.log, pywsgi._NoopLog):
            super().log_request()

    def _write_with_headers(self, data: bytes) -> None:
        if self.response_use_chunked:
            super()._write_with_headers(data)
            return
        self.headers_sent = True
        self.finalize_headers()
        if self.response_use_chunked:  # finalize_headers may choose chunking
            towrite = self._header_bytes()
            self._sendall(bytes(towrite))
            self._write(data)
            return
        towrite = self._header_bytes()
        if data:
            towrite += data
        self._sendall(bytes(towrite))

    def _header_bytes(self) -> bytearray:
        towrite = bytearray(b"HTTP/1.1 ")
        towrite += self.status
        towrite += b"\r\n"
        for header, value in self.response_headers:
            towrite += header
            towrite += b": "
            towrite += value
            towrite += b"\r\n"
        towrite += b"\r\n"
        return towrite


class Server(pywsgi.WSGIServer):
    """gevent's WSGIServer with siothread's :class:`Handler` and its timeouts."""

    handler_class = Handler

    def __init__(self, listener: Any, application: Any, *, header_timeout: float = 10.0,
                 idle_timeout: float = 30.0, **kwargs: Any) -> None:
        kwargs.setdefault("log", None)
        super().__init__(listener, application, **kwargs)
        self.header_timeout = float(header_timeout)
        self.idle_timeout = float(idle_timeout)
        #: descriptors of sockets taken over by the application (WebSocket): it closes them, not us
        self._detached: Set[int] = set()

    def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
        # gevent closes the TLS socket when the handler returns; a WebSocket session taken
        # over by the application outlives the handler and closes it itself.
        ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)
        try:
            return self.handle(ssl_socket, address)
        finally:
            try:
                fd = ssl_socket.fileno()
            except (OSError, ValueError):
                fd = -1
            if fd in self._detached:
                self._detached.discard(fd)  # do_close only sees the plain socket, detached by TLS
            else:
                ssl_socket.close()

    def do_close(self, sock: Any, *args: Any) -> None:
        try:
            fd = sock.fileno()
        except (OSError, ValueError):
            fd = -1
        if fd in self._detached:
            self._detached.discard(fd)
            return
        super().do_close(sock, *args)


def make_server(app: Any, host: str = "127.0.0.1", port: int = 5000, *, header_timeout: float = 10.0,
                idle_timeout: float = 30.0, log: Any = None, backlog: Optional[int] = None,
                **ssl_args: Any) -> Server:
    """A ready (not yet started) server for ``app``; ``port=0`` picks a free port.

    Call ``.start()`` to serve in the background (``.server_port`` tells the port)
    or ``.serve_forever()``; ``.stop(timeout)`` closes it.
    """
    kwargs: dict = dict(ssl_args)
    if backlog is not None:
        kwargs["backlog"] = backlog
    return Server((host, port), app, header_timeout=header_timeout, idle_timeout=idle_timeout,
                  log=log if log != "default" else sys.stderr, **kwargs)


def serve(app: Any, host: str = "127.0.0.1", port: int = 5000, *, shutdown_timeout: float = 10.0,
          **kwargs: Any) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then shut down gracefully.

    When ``app`` has a ``shutdown(timeout)`` method (:class:`siothread.WSGIApp`
    does), it runs first: new sessions are refused, clients
    are disconnected with reason "server shutting down", then the listener closes.
    """
    server = make_server(app, host, port, **kwargs)
    stopping = gevent.event.Event()

    def request_stop(*_: Any) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            gevent.signal_handler(sig, request_stop)
        except (ValueError, AttributeError):  # not the main thread
            pass
    server.start()
    print(f"siothread serving on http://{host}:{server.server_port}", file=sys.stderr, flush=True)
    stopping.wait()
    target = getattr(app, "shutdown", None)
    if callable(target):
        target(shutdown_timeout)
    server.stop(timeout=1.0)
