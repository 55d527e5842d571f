"""siothread's own HTTP/1.1 server on gevent, hardened and lean.

gevent's ``pywsgi`` handler costs far more per request than the Engine.IO
work it carries (request line and header parsing through several layers,
handler state, environ building, ``start_response`` validation, two sends
per response) and sets no read timeouts at all (slowloris). This module keeps
gevent's ``WSGIServer`` for accepting connections and replaces the per-request
handling with a keep-alive loop of its own (:class:`Handler`):

- the request line and headers are read into one buffer, kept across the
  requests of a connection, and parsed with caps while reading: a request line
  over ``MAX_REQUEST_LINE`` is answered 414, a head over ``MAX_HEADER_BYTES``
  or with more than ``MAX_HEADERS`` fields 431, anything malformed 400 (fixed
  bodies); the server never buffers more than those caps;
- a header timeout: the request line and headers must arrive within
  ``header_timeout`` seconds (a total deadline, not per ``recv``); between
  keep-alive requests the connection may idle ``idle_timeout`` more;
- ``TCP_NODELAY`` and headers + body in one ``send`` (with Nagle and delayed
  ACKs a response written in two parts stalls every long poll ~40 ms);
- HTTP/1.0 and ``Connection`` rules, pipelining, ``Content-Length`` and chunked
  request bodies, ``Expect: 100-continue``, HEAD, chunked responses when the
  application gives no length, the ``write()`` callable, ``close()`` of the
  application's iterable, ``exc_info``, a 500 when the application fails
  before its response started;
- a request body the application left unread is discarded when it is short
  (within ``header_timeout``), else the connection is closed: the server never
  waits without a deadline for bytes a client declared;
- WebSocket takeover: the engine writes the 101 itself (after its Origin check,
  with optional permessage-deflate) and owns the socket from then on
  (``environ["siothread.takeover"]``).

Body timeouts are enforced by the engine while it reads a body, so they hold
under any server.
"""
from __future__ import annotations

import re
import signal
import socket
import sys
import time
import traceback
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import unquote

import gevent
import gevent.event
from gevent import pywsgi
from gevent.hub import Waiter, get_hub

from .engine.modes import serving_on_gevent

__all__ = ["Handler", "Server", "make_server", "serve"]

#: The longest request line (method, target, version) accepted; longer ones get 414.
MAX_REQUEST_LINE = 8192
#: The largest request head (request line and header fields); larger ones get 431.
MAX_HEADER_BYTES = 65536
#: The most header fields in one request head; more get 431.
MAX_HEADERS = 100

#: The most unread request body bytes discarded to keep a connection alive (see
#: ``Handler._after_body``); past that the connection is closed instead.
_DISCARD_LIMIT = 65536
#: The longest chunk-size line of a chunked request body (size and extensions).
_MAX_CHUNK_LINE = 4096
#: The most bytes of trailer fields after the last chunk.
_MAX_TRAILER_BYTES = 8192
#: One socket read.
_READ_SIZE = 65536
#: How long a closing connection keeps reading what the client still sends, so that
#: the close does not turn into a reset that could destroy the response in flight.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 1 << 20


class HeaderTimeout(Exception):
    """The request line and headers did not arrive in time."""


class _BadRequest(Exception):
    """The request head is refused with one of the fixed answers below."""

    def __init__(self, response: bytes) -> None:
        super().__init__(response[9:12].decode())
        self.response = response


class _ClientGone(OSError):
    """The connection failed under a read or a write of the server (reset, EOF mid-body)."""


class InvalidBody(OSError):
    """A chunked request body that does not follow the grammar (or crosses a cap)."""


def _fixed(status: str, body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            f"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n").encode("latin-1") + body


_400 = _fixed("400 Bad Request", b"Bad Request")
_408 = _fixed("408 Request Timeout", b"Request Timeout")
_414 = _fixed("414 URI Too Long", b"URI Too Long")
_431 = _fixed("431 Request Header Fields Too Large", b"Request Header Fields Too Large")
_500 = _fixed("500 Internal Server Error", b"Internal Server Error")
_501 = _fixed("501 Not Implemented", b"Not Implemented")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")

#: header field name -> environ key ("" for names that are dropped), filled as names are seen
_ENV_KEYS: Dict[str, str] = {"Content-Type": "CONTENT_TYPE", "Content-Length": "CONTENT_LENGTH"}
_ENV_KEYS_MAX = 512


def _env_key(name: str) -> Optional[str]:
    """The environ key of a header field name; "" to drop it; None when the name is invalid."""
    key = _ENV_KEYS.get(name)
    if key is not None:
        return key
    if not _TOKEN.match(name):
        return None
    upper = name.upper()
    if upper == "CONTENT-TYPE" or upper == "CONTENT-LENGTH":
        key = upper.replace("-", "_")
    elif "_" in name:
        # "X_Forwarded_For" would arrive as HTTP_X_FORWARDED_FOR, like the header a proxy
        # vouches for: dropped, as pywsgi, gunicorn and nginx do.
        key = ""
    else:
        key = "HTTP_" + upper.replace("-", "_")
    if len(_ENV_KEYS) < _ENV_KEYS_MAX:
        _ENV_KEYS[name] = key
    return key


def _has_token(value: str, token: str) -> bool:
    """Whether the comma-separated header ``value`` lists ``token`` (lower case)."""
    value = value.lower()
    if value == token:
        return True
    return token in (part.strip(" \t") for part in value.split(","))


_date_cache: List[Any] = [0, b""]


def _date_line() -> bytes:
    now = int(time.time())
    if now != _date_cache[0]:
        date = pywsgi.format_date_time(now)
        if isinstance(date, str):
            date = date.encode("latin-1")
        _date_cache[1] = b"Date: " + date + b"\r\n"
        _date_cache[0] = now
    line: bytes = _date_cache[1]
    return line


_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
_NO_BODY_CODES = frozenset({204, 304})

#: response header names the server acts on (the rest are passed through as they are)
_CONTENT_LENGTH, _CONNECTION, _DATE, _TRANSFER_ENCODING = 1, 2, 3, 4
_KINDS = {"content-length": _CONTENT_LENGTH, "connection": _CONNECTION, "date": _DATE,
          "transfer-encoding": _TRANSFER_ENCODING}
#: response header name -> its kind (0: passed through), filled as names are seen
_HEADER_KINDS: Dict[str, int] = {}


def _header_kind(name: str) -> int:
    if type(name) is not str:
        raise TypeError(f"header names must be str: {name!r}")
    kind = _KINDS.get(name.lower(), 0)
    if len(_HEADER_KINDS) < _ENV_KEYS_MAX:
        _HEADER_KINDS[name] = kind
    return kind


class _Leftover:
    """What a takeover hands over in place of a buffered reader: the bytes already read."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read1(self, n: int = -1) -> bytes:
        data = self._data
        if n is not None and 0 <= n < len(data):
            self._data = data[n:]
            return data[:n]
        self._data = b""
        return data

    def close(self) -> None:
        self._data = b""


class Input:
    """``wsgi.input`` of one request: ``Content-Length`` or chunked, self-terminating.

    Reads come from the connection's buffer first, then from the socket. A read
    past the end returns ``b""``; a body that ends early raises ``OSError``. The
    first read that has to wait for the client answers ``Expect: 100-continue``.
    """

    __slots__ = ("_h", "left", "chunked", "done", "broken", "expect", "_chunk", "_pending")

    def __init__(self, handler: "Handler", length: int, chunked: bool, expect: bool) -> None:
        self._h = handler
        #: body bytes not read yet (Content-Length bodies)
        self.left = length
        self.chunked = chunked
        #: the last chunk and the trailers were read
        self.done = not chunked
        #: a read failed: the connection is in an unknown state
        self.broken = False
        #: a 100 Continue is owed before the first read that waits for the client
        self.expect = expect
        self._chunk = 0  # bytes left in the current chunk
        self._pending = b""  # decoded chunk data read ahead of a readline

    # -- the WSGI input API ---------------------------------------------------------
    def read(self, size: Optional[int] = None) -> bytes:
        if self.chunked:
            return self._read_chunked(size, False)
        left = self.left
        if size is None or size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        h = self._h
        buf = h._buf
        if len(buf) >= size:
            h._buf = buf[size:]
            self.left = left - size
            return buf[:size]
        return self._read_slow(size)

    def readline(self, size: Optional[int] = None) -> bytes:
        if self.chunked:
            return self._read_chunked(size, True)
        left = self.left
        limit = left if size is None or size < 0 or size > left else size
        if limit <= 0:
            return b""
        h = self._h
        try:
            while True:
                buf = h._buf
                i = buf.find(b"\n", 0, limit)
                if i >= 0 or len(buf) >= limit:
                    n = i + 1 if i >= 0 else limit
                    h._buf = buf[n:]
                    self.left = left - n
                    return buf[:n]
                self._continue()
                data = h._recv_body(min(_READ_SIZE, limit - len(buf)))
                if not data:
                    raise _ClientGone("the request body ended early")
                h._buf = buf + data
        except BaseException:
            self.broken = True
            raise

    def readlines(self, hint: Optional[int] = None) -> List[bytes]:
        lines: List[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> "Input":
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    # -- siothread's additions ------------------------------------------------------
    def on_hangup(self, callback: Callable[[], None]) -> Optional[Callable[[], None]]:
        """Call ``callback()`` (from the event loop) if the client closes the connection while
        the application holds the request; returns the function that stops watching, or None
        when the connection cannot be watched (TLS, or the next request is already buffered)."""
        return self._h._watch_hangup(callback)

    def read_buffered(self, size: int) -> Optional[bytes]:
        """Exactly ``size`` bytes of the body when they have already arrived (no wait, no
        deadline needed), else None and nothing is consumed."""
        h = self._h
        buf = h._buf
        if self.chunked or size > self.left or len(buf) < size:
            return None
        h._buf = buf[size:]
        self.left -= size
        return buf[:size]

    # -- internals ------------------------------------------------------------------
    def _continue(self) -> None:
        if self.expect:
            self.expect = False
            h = self._h
            if not h._head_sent:
                h._sendall(_CONTINUE)

    def _read_slow(self, size: int) -> bytes:
        h = self._h
        parts = []
        try:
            buf = h._buf
            if buf:
                parts.append(buf)
                h._buf = b""
            need = size - len(buf)
            while need > 0:
                self._continue()
                data = h._recv_body(min(need, _READ_SIZE))
                if not data:
                    raise _ClientGone("the request body ended early")
                parts.append(data)
                need -= len(data)
        except BaseException:
            self.broken = True
            raise
        self.left -= size
        return b"".join(parts)

    def _read_chunked(self, size: Optional[int], line: bool) -> bytes:
        if size is not None and size < 0:
            size = None
        if size == 0:
            return b""
        parts = []
        got = 0
        try:
            while size is None or got < size:
                want = _READ_SIZE if size is None else min(_READ_SIZE, size - got)
                piece = self._piece(want)
                if not piece:
                    break
                if line:
                    i = piece.find(b"\n")
                    if i >= 0:
                        self._pending = piece[i + 1:] + self._pending
                        parts.append(piece[:i + 1])
                        break
                parts.append(piece)
                got += len(piece)
        except BaseException:
            self.broken = True
            raise
        return b"".join(parts)

    def _piece(self, want: int) -> bytes:
        """Up to ``want`` bytes of decoded body; ``b""`` after the last chunk."""
        pending = self._pending
        if pending:
            self._pending = pending[want:]
            return pending[:want]
        if self.done:
            return b""
        h = self._h
        if self._chunk == 0:
            self._continue()
            line = h._read_line(_MAX_CHUNK_LINE)
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _HEX.match(size):
                raise InvalidBody("invalid chunk size")
            self._chunk = int(size, 16)
            if self._chunk == 0:
                total = 0
                while True:  # trailer fields, then the empty line
                    trailer = h._read_line(_MAX_TRAILER_BYTES)
                    if not trailer:
                        break
                    total += len(trailer) + 2
                    if total > _MAX_TRAILER_BYTES:
                        raise InvalidBody("chunked trailers too large")
                self.done = True
                return b""
        data = h._read_some(min(want, self._chunk))
        if not data:
            raise _ClientGone("the request body ended early")
        self._chunk -= len(data)
        if self._chunk == 0 and h._read_line(2) != b"":
            raise InvalidBody("chunk data not followed by CRLF")
        return data

    def _finished(self) -> bool:
        return self.done if self.chunked else self.left <= 0


def _split_lenient(text: str) -> List[str]:
    """Head lines ended by CRLF or a bare LF; a bare CR anywhere makes the request invalid."""
    lines = [line[:-1] if line[-1:] == "\r" else line for line in text.split("\n")]
    for line in lines:
        if "\r" in line:
            raise _BadRequest(_400)
    return lines


class Handler:
    """One client connection: its keep-alive request loop, from the accept to the close."""

    __slots__ = (
        "server", "sock", "address", "_raw", "_buf", "_hub", "_io", "_hup_io", "_hup_cb",
        "_env", "_log", "_drained", "_detached", "_gone", "_no_input", "_headbuf",
        # the request being answered
        "_input", "_status", "_code", "_block", "_clen", "_app_close", "_app_framed", "_has_date",
        "_head_sent", "_chunked", "_sent", "_keep", "_http10", "_no_body",
    )

    def __init__(self, server: "Server", sock: Any, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        # The OS socket under a plain gevent socket: read and written directly (one syscall
        # where gevent's wrappers try, fail with EAGAIN and wait). None under TLS.
        raw = None
        if not hasattr(sock, "getpeercert"):
            raw = getattr(sock, "_sock", None)
        self._raw = raw
        self._buf = b""
        self._hub = get_hub()
        self._io: Any = None
        self._hup_io: Any = None
        self._hup_cb: Optional[Callable[[], None]] = None
        env = dict(server.environ)
        if isinstance(address, tuple):
            env["REMOTE_ADDR"] = str(address[0])
            env["REMOTE_PORT"] = str(address[1])
        env["wsgi.input_terminated"] = True
        env["siothread.takeover"] = self._takeover
        if server.handoff is not None:
            env["siothread.handoff"] = self._handoff
        self._env: Optional[dict] = env
        #: the buffer the last request head was parsed from, and where the head ends in it
        self._headbuf: Tuple[bytes, int] = (b"", 0)
        self._log = None if isinstance(server.log, pywsgi._NoopLog) else server.log
        self._drained = False
        self._detached = False
        self._gone = False
        self._input: Optional[Input] = None
        #: the wsgi.input of every request without a body (it has no state to keep apart)
        self._no_input: Optional[Input] = Input(self, 0, False, False)
        self._head_sent = False

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        sock = self.sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        server = self.server
        raw = self._raw
        if raw is not None:
            self._io = self._hub.loop.io(raw.fileno(), 1)
        limit = server.header_timeout
        linger = False
        try:
            while True:
                try:
                    request = self._read_head(limit)
                except _BadRequest as exc:
                    self._sendall(exc.response)
                    linger = True
                    break
                except HeaderTimeout:
                    if self._buf:  # a request had started: say why it ends
                        self._sendall(_408)
                    break
                if request is None:
                    break
                if not self._serve(request):
                    # A body the client may still be sending: read it off before closing.
                    inp = self._input
                    linger = not self._detached and not self._gone and inp is not None and not inp._finished()
                    break
                limit = server.idle_timeout + server.header_timeout
        except _ClientGone:
            pass
        finally:
            self._finish(linger)

    def _finish(self, linger: bool) -> None:
        if self._hup_io is not None:
            self._hup_io.close()
        self._hup_io = self._hup_cb = self._input = self._no_input = None
        if not self._detached:
            if linger:
                self._linger()
            else:
                raw = self._raw
                if raw is not None:
                    # Read what the client sent after its last request, so that closing
                    # sends a FIN rather than a reset (which could destroy the response).
                    try:
                        raw.recv(_READ_SIZE)
                    except OSError:
                        pass
        if self._io is not None:
            self._io.close()
            self._io = None
        if not self._detached:
            try:
                self.sock.close()
            except OSError:
                pass
        self._buf = b""
        # The handshake's environ (kept by a polling session) refers to this handler.
        self.sock = self._raw = self._env = None

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends for a little while."""
        sock = self.sock
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + _LINGER_SECONDS
        total = 0
        try:
            while total < _LINGER_BYTES:
                data = self._recv_until(_READ_SIZE, deadline)
                if not data:
                    return
                total += len(data)
        except (HeaderTimeout, OSError):
            pass

    # -- reading --------------------------------------------------------------------
    def _wait_readable(self, timeout: float) -> bool:
        """Park until the socket is readable (True) or ``timeout`` passed (False)."""
        waiter = Waiter(self._hub)
        io = self._io
        timer = self._hub.loop.timer(timeout)
        io.start(waiter.switch, True)
        timer.start(waiter.switch, False)
        try:
            return bool(waiter.get())
        finally:
            io.stop()
            timer.close()

    def _recv_until(self, n: int, deadline: float) -> bytes:
        """One read of at most ``n`` bytes before ``deadline``, else HeaderTimeout."""
        raw = self._raw
        if raw is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HeaderTimeout()
            sock = self.sock
            sock.settimeout(remaining)
            try:
                return bytes(sock.recv(n))
            except socket.timeout:
                raise HeaderTimeout() from None
            finally:
                sock.settimeout(None)
        if self._drained:
            # After a response the next request is rarely there yet: wait before reading
            # instead of a recv that fails with EAGAIN.
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._wait_readable(remaining):
                raise HeaderTimeout()
        while True:
            try:
                data: bytes = raw.recv(n)
            except (BlockingIOError, InterruptedError):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._wait_readable(remaining):
                    raise HeaderTimeout() from None
                continue
            self._drained = len(data) < n
            return data

    def _recv_body(self, n: int) -> bytes:
        """One read for a request body: no deadline of its own (the application sets one)."""
        try:
            raw = self._raw
            if raw is None:
                return bytes(self.sock.recv(n))
            while True:
                try:
                    return raw.recv(n)  # type: ignore[no-any-return]
                except (BlockingIOError, InterruptedError):
                    self._hub.wait(self._io)
        except OSError as exc:
            self._gone = True
            raise _ClientGone(str(exc)) from None

    def _read_some(self, n: int) -> bytes:
        buf = self._buf
        if buf:
            self._buf = buf[n:]
            return buf[:n]
        return self._recv_body(n)

    def _read_line(self, limit: int) -> bytes:
        """One line of a chunked body (without its CRLF or LF), at most ``limit`` bytes."""
        while True:
            buf = self._buf
            i = buf.find(b"\n", 0, limit + 2)
            if i >= 0:
                self._buf = buf[i + 1:]
                return buf[:i - 1] if i and buf[i - 1] == 13 else buf[:i]
            if len(buf) > limit + 1:
                raise InvalidBody("chunk line too long")
            data = self._recv_body(_READ_SIZE)
            if not data:
                raise _ClientGone("the request body ended early")
            self._buf = buf + data

    def _read_head(self, limit: float) -> Optional[Tuple[dict, bool, bool, bool]]:
        """Read and parse the next request head; None when the client closed (or idled out)."""
        buf = self._buf
        scan = 0
        deadline = 0.0
        while True:
            if buf:
                if buf[0] in (13, 10):  # empty lines before a request are ignored (RFC 9112 2.2)
                    buf = buf.lstrip(b"\r\n")
                    scan = 0
                i = buf.find(b"\n\r\n", scan)
                j = buf.find(b"\n\n", scan, i + 1 if i >= 0 else len(buf))
                if j >= 0:
                    end, rest = j, j + 2
                    break
                if i >= 0:
                    end, rest = i, i + 3
                    break
                if buf.find(b"\n", 0, MAX_REQUEST_LINE + 2) < 0 and len(buf) > MAX_REQUEST_LINE + 1:
                    self._buf = b""
                    raise _BadRequest(_414)
                if len(buf) >= MAX_HEADER_BYTES + 4:
                    self._buf = b""
                    raise _BadRequest(_431)
                scan = max(0, len(buf) - 2)
            if not deadline:
                deadline = time.monotonic() + limit
            self._buf = buf  # kept for the 408 decision on a timeout
            try:
                data = self._recv_until(min(_READ_SIZE, MAX_HEADER_BYTES + 4 - len(buf)), deadline)
            except HeaderTimeout:
                raise
            except OSError:
                self._gone = True
                return None
            if not data:
                self._gone = True
                return None
            buf = buf + data if buf else data
        self._buf = buf[rest:]
        self._headbuf = (buf, rest)
        return self._parse(buf[:end].decode("latin-1"))

    def _parse(self, text: str) -> Tuple[dict, bool, bool, bool]:
        """The environ of one request head; raises _BadRequest. Returns (environ, keep-alive,
        HTTP/1.0, HEAD)."""
        if text[-1:] == "\r":
            text = text[:-1]
        lines = text.split("\r\n")
        count = len(lines) - 1
        if text.count("\n") != count or text.count("\r") != count:
            lines = _split_lenient(text)
        if len(lines) > MAX_HEADERS + 1:
            raise _BadRequest(_431)
        line = lines[0]
        if len(line) > MAX_REQUEST_LINE:
            raise _BadRequest(_414)
        parts = line.split(" ")
        if len(parts) != 3:
            raise _BadRequest(_400)
        method, target, version = parts
        if version == "HTTP/1.1":
            http10 = False
        elif version == "HTTP/1.0":
            http10 = True
        elif version[:5] == "HTTP/" and version[5:6].isdigit() and version[6:7] == "." and version[7:].isdigit():
            if version[5] != "1":
                raise _BadRequest(_400)  # HTTP/2's preface, say: not an HTTP/1 request
            http10 = False  # a later HTTP/1.x is answered as 1.1
        else:
            raise _BadRequest(_400)
        if method not in _METHODS and not _TOKEN.match(method):
            raise _BadRequest(_400)
        env = self._env.copy()  # type: ignore[union-attr]
        env["REQUEST_METHOD"] = method
        env["SERVER_PROTOCOL"] = version
        path, _, query = target.partition("?")
        if path[:1] != "/":
            path = self._origin_form(path)
        if "%" in path:
            path = unquote(path, "latin-1")
        env["PATH_INFO"] = path
        env["QUERY_STRING"] = query
        last = ""
        keys = _ENV_KEYS
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            key = keys.get(name) if sep else None
            if key is None and sep:
                key = _env_key(name)
            if key is None:
                if line[:1] in (" ", "\t") and last:
                    # obsolete line folding: one space instead (RFC 9112 5.2)
                    env[last] = env[last] + " " + line.strip(" \t")
                    continue
                raise _BadRequest(_400)
            if not key:
                last = ""
                continue
            value = value.strip(" \t")
            old = env.setdefault(key, value)
            if old is not value:
                self._merge(env, key, old, value)
            last = key
        # -- body framing and connection rules
        te = env.get("HTTP_TRANSFER_ENCODING")
        length = env.get("CONTENT_LENGTH")
        keep = True
        chunked = False
        body = 0
        if te is not None:
            if te.lower() != "chunked":
                raise _BadRequest(_501 if te.strip() else _400)
            chunked = True
            if length is not None:
                # Both framings: the body is read as chunked and the connection is not
                # reused (request smuggling, RFC 9112 6.1).
                del env["CONTENT_LENGTH"]
                keep = False
            if http10:
                keep = False
        elif length is not None:
            if not (length.isdigit() and length.isascii()) or len(length) > 18:
                raise _BadRequest(_400)
            body = int(length)
        conn = env.get("HTTP_CONNECTION")
        if http10:
            keep = keep and conn is not None and _has_token(conn, "keep-alive")
        elif conn is not None and keep:
            keep = not _has_token(conn, "close")
        expect = False
        if not http10 and (body or chunked):
            expect = env.get("HTTP_EXPECT", "").lower() == "100-continue"
        inp = Input(self, body, chunked, expect) if body or chunked else self._no_input
        self._input = inp
        env["wsgi.input"] = inp
        return env, keep, http10, method == "HEAD"

    @staticmethod
    def _origin_form(path: str) -> str:
        """The path of an absolute-form target (``http://host/path``); ``*`` stays as it is."""
        if path == "*":
            return path
        lower = path[:8].lower()
        if lower.startswith("http://") or lower.startswith("https://"):
            rest = path.split("//", 1)[1]
            slash = rest.find("/")
            return rest[slash:] if slash >= 0 else "/"
        raise _BadRequest(_400)

    @staticmethod
    def _merge(env: dict, key: str, old: str, value: str) -> None:
        """A header field that appears more than once."""
        if key == "CONTENT_LENGTH":
            if old != value:
                raise _BadRequest(_400)
        elif key == "CONTENT_TYPE":
            pass  # the first one counts
        elif key == "HTTP_COOKIE":
            env[key] = old + "; " + value
        else:
            env[key] = old + "," + value

    # -- one request ----------------------------------------------------------------
    def _serve(self, request: Tuple[dict, bool, bool, bool]) -> bool:
        """Run the application for one request and send its response; False to close."""
        env, keep, http10, head = request
        inp = self._input
        log = self._log
        if log is not None:
            started = time.time()
        self._status = None
        self._head_sent = False
        self._chunked = False
        self._sent = 0
        self._keep = keep
        self._http10 = http10
        self._no_body = head
        result = None
        try:
            result = self.server.application(env, self._start_response)
            if self._detached:
                pass
            elif type(result) is list and not self._head_sent and self._status is not None:
                self._send_whole(b"".join(result) if len(result) != 1 else result[0])
            else:
                self._send_iter(result)
        except _ClientGone:
            self._gone = True
            self._keep = False
        except Exception as exc:
            if self._gone or (inp is not None and inp.broken and isinstance(exc, OSError)):
                # The client went away, or broke the body's framing, under the application:
                # nothing to report. An invalid body is answered 400 if nothing was sent yet.
                self._keep = False
                if isinstance(exc, InvalidBody) and not self._head_sent and not self._gone:
                    self._status, self._code, self._head_sent = "400 Bad Request", 400, True
                    self._sendall(_400)
            else:
                self._app_error(env)
        finally:
            if result is not None and type(result) is not list:
                close = getattr(result, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        self._app_error(env)
        if self._detached:
            return False
        if log is not None:
            self._log_request(env, started)
        if not self._keep:
            return False
        if inp is not None and not inp._finished():
            return self._after_body(inp)
        return True

    def _app_error(self, env: dict) -> None:
        """The application raised: log it; a 500 when nothing was sent yet; close either way."""
        self._keep = False
        if not isinstance(sys.exc_info()[1], gevent.GreenletExit):
            try:
                self.server.error_log.write(
                    f"Error handling {env.get('REQUEST_METHOD')} {env.get('PATH_INFO')}:\n{traceback.format_exc()}")
            except Exception:  # pragma: no cover - a broken log must not take the server down
                pass
        if not self._head_sent:
            self._status = "500 Internal Server Error"
            self._code = 500
            self._head_sent = True
            try:
                self._sendall(_500)
            except _ClientGone:
                pass

    def _after_body(self, inp: Input) -> bool:
        """The application left part of the request body unread: discard a short remainder
        (within ``header_timeout``) to keep the connection, else close it.

        Without this bound a client that declared 10 MB (and got its 413) or stalled (and
        got its 408) would pin the connection for as long as it liked (rows E5, E14).
        """
        if inp.broken or inp.chunked or inp.expect or inp.left > _DISCARD_LIMIT:
            # expect: the 100 Continue was never sent, the client may be waiting to send
            return False
        deadline = time.monotonic() + self.server.header_timeout
        left = inp.left
        try:
            buf = self._buf
            take = min(left, len(buf))
            self._buf = buf[take:]
            left -= take
            while left > 0:
                data = self._recv_until(min(left, _READ_SIZE), deadline)
                if not data:
                    return False
                left -= len(data)
        except (HeaderTimeout, OSError):
            return False
        inp.left = 0
        return True

    # -- the response ---------------------------------------------------------------
    def _start_response(self, status: str, headers: List[Tuple[str, str]],
                        exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self._head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        if type(status) is not str:
            raise TypeError("the status must be a str")
        code = int(status[:3])
        lines = []
        clen = None
        app_close = False
        framed = False
        has_date = False
        kinds = _HEADER_KINDS
        for name, value in headers:
            kind = kinds.get(name)
            if kind is None:
                kind = _header_kind(name)
            if type(value) is not str:
                raise TypeError(f"header values must be str: {name!r}: {value!r}")
            if kind:
                if kind == _CONTENT_LENGTH:
                    clen = value.strip()
                    if not (clen.isdigit() and clen.isascii()):
                        raise ValueError(f"invalid Content-Length {value!r}")
                elif kind == _CONNECTION:
                    app_close = _has_token(value, "close")
                elif kind == _DATE:
                    has_date = True
                else:
                    framed = True
            lines.append(f"{name}: {value}\r\n")
        block = "".join(lines)
        n = len(lines)
        if block.count("\n") != n or block.count("\r") != n or "\r" in status or "\n" in status:
            raise ValueError("carriage return or line feed in a response header or the status")
        self._block = block.encode("latin-1")
        self._status = status
        self._code = code
        self._clen = None if clen is None else int(clen)
        self._app_close = app_close
        self._app_framed = framed
        self._has_date = has_date
        return self._write

    def _head(self, length: Optional[int]) -> bytes:
        """The response head; ``length`` is the whole body's length when known."""
        code = self._code
        extra = b"" if self._has_date else _date_line()
        if code < 200 or code in _NO_BODY_CODES:
            self._no_body = True
        elif self._clen is not None:
            pass
        elif self._app_framed:
            self._keep = False
        elif length is not None:
            extra += b"Content-Length: %d\r\n" % length
        elif not self._http10 and not self._no_body:
            extra += b"Transfer-Encoding: chunked\r\n"
            self._chunked = True
        elif not self._no_body:
            self._keep = False  # the end of the body is the end of the connection
        if self._app_close:
            self._keep = False
        else:
            keep = self._keep
            if keep:
                inp = self._input
                if inp is not None and (inp.broken or inp.chunked and not inp.done or inp.left > _DISCARD_LIMIT):
                    self._keep = keep = False  # the rest of the body will not be read
            if not keep:
                extra += b"Connection: close\r\n"
            elif self._http10:
                extra += b"Connection: keep-alive\r\n"
        self._head_sent = True
        status: str = self._status  # type: ignore[assignment]
        return b"HTTP/1.1 %s\r\n%s%s\r\n" % (status.encode("latin-1"), self._block, extra)

    def _send_whole(self, body: bytes) -> None:
        """The hot path: the application returned its whole body; head and body in one send."""
        if type(body) is not bytes:
            if not isinstance(body, (bytearray, memoryview)):
                raise TypeError(f"response data must be bytes, not {type(body).__name__}")
            body = bytes(body)
        head = self._head(len(body))
        clen = self._clen
        if self._no_body:
            self._sendall(head)
            return
        if clen is not None and clen != len(body):
            self._keep = False
            body = body[:clen]
        self._sent = len(body)
        if len(body) <= 65536:
            self._sendall(head + body)
        else:
            self._sendall(head)
            self._sendall(body)

    def _send_iter(self, result: Any) -> None:
        for data in result:
            if data:
                self._write(data)
            if self._detached:
                return
        if not self._head_sent:
            if self._status is None:
                raise AssertionError("the application did not call start_response()")
            self._sendall(self._head(0))
        elif self._chunked:
            self._sendall(_LAST_CHUNK)
        if self._clen is not None and self._sent != self._clen and not self._no_body:
            self._keep = False

    def _write(self, data: bytes) -> None:
        """The ``write()`` callable of ``start_response`` (and every chunk of an iterable)."""
        if self._status is None:
            raise AssertionError("write() before start_response()")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"response data must be bytes, not {type(data).__name__}")
        if not self._head_sent:
            head = self._head(None)
        else:
            head = b""
        if self._no_body or not data:
            if head:
                self._sendall(head)
            return
        clen = self._clen
        if clen is not None:
            room = clen - self._sent
            if len(data) > room:
                self._keep = False
                data = data[:max(room, 0)]
        self._sent += len(data)
        if self._chunked:
            self._sendall(b"%s%x\r\n%s\r\n" % (head, len(data), data))
        elif head:
            self._sendall(head + data)
        elif data:
            self._sendall(data)

    def _sendall(self, data: Any) -> None:
        raw = self._raw
        try:
            if raw is not None:
                try:
                    sent = raw.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
            self.sock.sendall(data)
        except OSError as exc:
            self._gone = True
            raise _ClientGone(str(exc)) from None

    def _log_request(self, env: dict, started: float) -> None:
        log: Any = self._log
        now = time.time()
        addr = self.address[0] if isinstance(self.address, tuple) else self.address
        target = env["PATH_INFO"] + ("?" + env["QUERY_STRING"] if env["QUERY_STRING"] else "")
        status = (self._status or "000").split(" ", 1)[0]
        try:
            log.write('%s - - [%s] "%s %s %s" %s %s %.6f\n' % (
                addr or "-", datetime.now().replace(microsecond=0), env["REQUEST_METHOD"], target,
                env["SERVER_PROTOCOL"], status, self._sent or "-", now - started))
        except Exception:  # pragma: no cover
            pass

    # -- hand-overs -----------------------------------------------------------------
    def _takeover(self) -> Tuple[Any, Any]:
        """Hand the connection to the application (WebSocket): its socket, and a reader of the
        bytes already read past the request head. Nothing more is written here."""
        self._detached = True
        self._keep = False
        # From now on the engine owns the socket and closes it: neither this handler nor the
        # server may (the connection can outlive this request's greenlet).
        self.server._detached.add(self.sock)
        for watcher in (self._io, self._hup_io):
            if watcher is not None:
                watcher.close()
        self._io = self._hup_io = None
        rest = self._buf
        self._buf = b""
        return self.sock, _Leftover(rest)

    def _handoff(self, sid: str) -> bool:
        """Pass the connection to the worker process that owns ``sid`` (``environ["siothread.handoff"]``).

        Called by the engine before it reads the request body and before any response: the
        owner receives the socket and the bytes read so far (this request's head and what
        followed it), and serves this request and the rest of the connection. False when no
        other live worker owns ``sid``: nothing happened and the caller answers itself.
        """
        if self._detached or self._head_sent or self.sock is None:
            return False
        handoff: Any = self.server.handoff
        owner = handoff.connect(sid)
        if owner is None:
            return False
        buf, rest = self._headbuf
        data = buf[:rest] + self._buf
        https = self._env is not None and self._env.get("wsgi.url_scheme") == "https"
        sock, _ = self._takeover()
        handoff.transfer(owner, sock, data, self.address, https)
        return True

    def _watch_hangup(self, callback: Callable[[], None]) -> Optional[Callable[[], None]]:
        raw = self._raw
        if raw is None or self._buf or self._detached:
            return None
        io = self._hup_io
        if io is None:
            io = self._hup_io = self._hub.loop.io(raw.fileno(), 1)
        self._hup_cb = callback
        io.start(self._check_hangup)
        stop: Callable[[], None] = io.stop
        return stop

    def _check_hangup(self) -> None:
        # Runs in the event loop: the socket turned readable while the request is held.
        raw = self._raw
        try:
            data = raw.recv(1, socket.MSG_PEEK) if raw is not None else b""
        except (BlockingIOError, InterruptedError):
            return  # not readable after all: keep watching
        except OSError:
            data = b""
        io = self._hup_io
        if io is not None:
            io.stop()
        callback, self._hup_cb = self._hup_cb, None
        if not data and callback is not None:
            callback()


class Server(pywsgi.WSGIServer):
    """gevent's WSGIServer accepting connections for siothread's :class:`Handler`."""

    def __init__(self, listener: Any, application: Any, *, header_timeout: float = 10.0,
                 idle_timeout: float = 30.0, **kwargs: Any) -> None:
        kwargs.setdefault("log", None)
        # servers of the app still undecided (async_mode=None in an unpatched process) run on gevent
        serving_on_gevent(application, "siothread's gevent server")
        super().__init__(listener, application, **kwargs)
        self.header_timeout = float(header_timeout)
        self.idle_timeout = float(idle_timeout)
        #: sockets taken over by the application (WebSocket), until their handler returned:
        #: the application closes them, not us
        self._detached: Set[Any] = set()
        #: passes connections to the worker process that owns a session
        #: (:class:`siothread.handoff.Router`); None in a single process
        self.handoff: Any = None

    def handle(self, sock: Any, address: Any) -> None:
        Handler(self, sock, address).run()

    def wrap_socket_and_handle(self, client_socket: Any, address: Any) -> Any:
        # gevent closes the TLS socket when the handler returns; a WebSocket session taken
        # over by the application outlives the handler and closes it itself.
        # The TLS handshake is part of the request head: a peer that never completes it
        # must not hold a greenlet and a descriptor forever (slowloris over TLS).
        client_socket.settimeout(self.header_timeout)
        try:
            ssl_socket = self.wrap_socket(client_socket, **self.ssl_args)
        except OSError:  # timed out, refused by TLS, or reset: do_close closes the socket
            return None
        ssl_socket.settimeout(None)
        try:
            return self.handle(ssl_socket, address)
        finally:
            if ssl_socket in self._detached:
                self._detached.discard(ssl_socket)
            else:
                ssl_socket.close()

    def do_close(self, sock: Any, *args: Any) -> None:
        # The handler closed the socket already, unless the application took it over.
        # (Under TLS this is the plain socket, detached from its descriptor by the wrapper.)
        if sock in self._detached:
            self._detached.discard(sock)
            return
        super().do_close(sock, *args)


def _tls_context_args(ssl_args: Dict[str, Any]) -> Dict[str, Any]:
    """Turn the ``ssl.wrap_socket``-style keywords into an ``ssl_context``."""
    if "ssl_context" in ssl_args or "ssl_version" in ssl_args or "certfile" not in ssl_args:
        return ssl_args
    import gevent.ssl

    context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ssl_args.pop("certfile"), ssl_args.pop("keyfile", None))
    ca_certs = ssl_args.pop("ca_certs", None)
    if ca_certs is not None:
        context.load_verify_locations(ca_certs)
    cert_reqs = ssl_args.pop("cert_reqs", None)
    if cert_reqs is not None:
        context.verify_mode = cert_reqs
    ciphers = ssl_args.pop("ciphers", None)
    if ciphers is not None:
        context.set_ciphers(ciphers)
    ssl_args["ssl_context"] = context
    return ssl_args


def make_server(app: Any, host: str = "127.0.0.1", port: int = 5000, *, header_timeout: float = 10.0,
                idle_timeout: float = 30.0, log: Any = None, backlog: Optional[int] = None,
                **ssl_args: Any) -> Server:
    """A ready (not yet started) server for ``app``; ``port=0`` picks a free port.

    Call ``.start()`` to serve in the background (``.server_port`` tells the port)
    or ``.serve_forever()``; ``.stop(timeout)`` closes it.

    TLS: pass ``ssl_context=`` (an :class:`ssl.SSLContext` for the server side), or
    ``certfile=`` / ``keyfile=`` (and optionally ``ca_certs=``, ``cert_reqs=``,
    ``ciphers=``), from which a ``PROTOCOL_TLS_SERVER`` context with the standard
    library's defaults is built (gevent's own ``ssl.wrap_socket`` path uses the
    deprecated ``PROTOCOL_TLS``). The TLS handshake must complete within
    ``header_timeout``.
    """
    kwargs: dict = _tls_context_args(dict(ssl_args))
    if backlog is not None:
        kwargs["backlog"] = backlog
    return Server((host, port), app, header_timeout=header_timeout, idle_timeout=idle_timeout,
                  log=log if log != "default" else sys.stderr, **kwargs)


def serve(app: Any, host: str = "127.0.0.1", port: int = 5000, *, shutdown_timeout: float = 10.0,
          stop_event: Any = None, workers: int = 1, **kwargs: Any) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then shut down gracefully.

    When ``app`` has a ``shutdown(timeout)`` method (:class:`siothread.WSGIApp`
    does), it runs first: new sessions are refused, clients
    are disconnected with reason "server shutting down", then the listener closes.
    ``stop_event`` (an event such as ``sio.runtime.Event()``) stops it the same
    way when set, for code that serves in-process (``flask_siothread``'s ``stop()``).

    ``workers=N`` (N > 1, Linux) forks N worker processes sharing the port, which
    pass each session's requests to the worker that holds it (:mod:`siothread.prefork`).
    """
    if workers != 1:
        from .prefork import serve_workers

        serve_workers(app, host, port, workers=workers, shutdown_timeout=shutdown_timeout, **kwargs)
        return
    server = make_server(app, host, port, **kwargs)
    stopping = stop_event if stop_event is not None else gevent.event.Event()

    def request_stop(*_: Any) -> None:
        stopping.set()

    handlers = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handlers.append(gevent.signal_handler(sig, request_stop))
        except (ValueError, AttributeError):  # not the main thread
            pass
    try:
        server.start()
        print(f"siothread serving on http://{host}:{server.server_port}", file=sys.stderr, flush=True)
        stopping.wait()
        target = getattr(app, "shutdown", None)
        if callable(target):
            target(shutdown_timeout)
        server.stop(timeout=1.0)
    finally:
        for handler in handlers:
            handler.cancel()
