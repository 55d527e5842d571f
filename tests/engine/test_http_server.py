"""siothread's own HTTP/1.1 loop (``siothread.serving``), spoken to over raw sockets.

Each test starts :func:`siothread.make_server` on 127.0.0.1 with a plain WSGI
application (or :class:`siothread.WSGIApp`) and talks HTTP by hand: keep-alive,
pipelining, chunked bodies both ways, ``Expect: 100-continue``, HEAD, HTTP/1.0,
the caps on request heads (enforced while reading), application errors, the
``write()`` callable, ``close()`` of the application's iterable, and the header
and idle timeouts.
"""
from __future__ import annotations

import io
import json
import socket
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import gevent
import pytest

import siothread
from siothread.engine import Server as EngineServer

Response = Tuple[int, Dict[str, str], bytes]


# -- a raw HTTP client ------------------------------------------------------------------
class Client:
    """One connection; reads responses off a buffer of its own."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed mid-line")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed mid-body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self) -> Tuple[int, Dict[str, str]]:
        status = self._line()
        assert status.startswith(b"HTTP/1.1 "), status
        headers: Dict[str, str] = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.lower()] = value.strip()
        return int(status[9:12]), headers

    def response(self, head_request: bool = False) -> Response:
        code, headers = self.head()
        if head_request or code in (204, 304) or 100 <= code < 200:
            return code, headers, b""
        if "content-length" in headers:
            return code, headers, self._exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    return code, headers, body
                body += self._exactly(size)
                assert self._exactly(2) == b"\r\n"
        while self._fill():  # close-delimited
            pass
        body, self.buf = self.buf, b""
        return code, headers, body

    def eof(self) -> bool:
        """True when the server closed the connection (after anything still buffered)."""
        try:
            return not self.buf and not self._fill()
        except ConnectionResetError:
            return True

    def rest(self) -> bytes:
        """Everything until the server closes."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        data, self.buf = self.buf, b""
        return data


def request(method: str, target: str = "/", body: Optional[bytes] = None, version: str = "HTTP/1.1",
            headers: Optional[List[str]] = None) -> bytes:
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1"]
    lines += headers or []
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


# -- applications -----------------------------------------------------------------------
def echo_app(environ: dict, start_response: Callable[..., Any]) -> List[bytes]:
    """Answers with the method, path and the whole request body."""
    body = environ["wsgi.input"].read()
    out = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {len(body)}\n".encode() + body
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


def environ_app(environ: dict, start_response: Callable[..., Any]) -> List[bytes]:
    picked = {k: v for k, v in environ.items() if isinstance(v, (str, bool, tuple))}
    out = json.dumps(picked).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]


@pytest.fixture
def serve_app() -> Iterator[Callable[..., int]]:
    """``serve_app(app, **make_server_options)`` -> port; stopped at teardown."""
    servers: List[Any] = []

    def start(app: Callable[..., Any], **options: Any) -> int:
        srv = siothread.make_server(app, "127.0.0.1", 0, **options)
        srv.start()
        servers.append(srv)
        return int(srv.server_port)

    yield start
    for srv in servers:
        srv.stop(timeout=1)


# -- keep-alive and pipelining ----------------------------------------------------------
def test_keep_alive_reuses_the_connection(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        for i in range(5):
            c.send(request("POST", f"/n{i}", body=b"x" * i))
            code, headers, body = c.response()
            assert code == 200 and body == f"POST /n{i} {i}\n".encode() + b"x" * i
            assert "connection" not in headers and "date" in headers


def test_pipelined_requests_are_answered_in_order(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(request("GET", "/a") + request("POST", "/b", body=b"hello") + request("GET", "/c")
               + b"\r\n" + request("POST", "/d", body=b""))  # an empty line between requests is ignored
        bodies = [c.response()[2] for _ in range(4)]
        assert bodies == [b"GET /a 0\n", b"POST /b 5\nhello", b"GET /c 0\n", b"POST /d 0\n"]


def test_a_request_trickling_in_byte_by_byte_is_served(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        for byte in request("POST", "/slow", body=b"abc"):
            c.send(bytes([byte]))
        assert c.response()[2] == b"POST /slow 3\nabc"


def test_bare_lf_line_ends_are_accepted(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(b"GET /lf HTTP/1.1\nHost: x\n\n")
        assert c.response()[2] == b"GET /lf 0\n"


# -- request bodies ---------------------------------------------------------------------
def test_chunked_request_body(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
        assert c.response()[2] == b"POST /up 16\nhello 0123456789"
        # the connection is still in step
        c.send(request("GET", "/next"))
        assert c.response()[2] == b"GET /next 0\n"


def test_chunked_request_body_read_line_by_line(serve_app):
    def app(environ, start_response):
        lines = list(environ["wsgi.input"])
        out = json.dumps([line.decode() for line in lines]).encode()
        start_response("200 OK", [("Content-Length", str(len(out)))])
        return [out]

    port = serve_app(app)
    with Client(port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\na\nbc\r\n3\r\nd\ne\r\n0\r\n\r\n")
        assert json.loads(c.response()[2]) == ["a\n", "bcd\n", "e"]


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",             # not a hex size
    b"5\r\nhelloXX0\r\n\r\n",                # no CRLF after the chunk data
    b"1" * 20 + b"\r\n",                     # a size of 20 hex digits
])
def test_invalid_chunked_body_ends_the_connection(serve_app, body):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        code, headers, _ = c.response()
        assert code == 400 and headers["connection"] == "close"
        assert c.eof()
    with Client(port) as c:  # the server is fine
        c.send(request("GET"))
        assert c.response()[0] == 200


def test_body_lines_and_partial_reads(serve_app):
    def app(environ, start_response):
        inp = environ["wsgi.input"]
        first = inp.readline()
        two = inp.read(2)
        rest = inp.readlines()
        out = json.dumps([first.decode(), two.decode(), [r.decode() for r in rest], inp.read().decode()]).encode()
        start_response("200 OK", [("Content-Length", str(len(out)))])
        return [out]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("POST", body=b"line one\nxyline two\nlast"))
        assert json.loads(c.response()[2]) == ["line one\n", "xy", ["line two\n", "last"], ""]


def test_expect_100_continue(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        code, _, _ = c.response()
        assert code == 100
        c.send(b"data")
        assert c.response()[2] == b"POST /e 4\ndata"
        c.send(request("GET", "/after"))
        assert c.response()[2] == b"GET /after 0\n"


def test_expect_100_continue_refused_without_reading_closes(serve_app):
    def refuse(environ, start_response):
        start_response("413 Payload Too Large", [("Content-Length", "0")])
        return [b""]

    port = serve_app(refuse)
    with Client(port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
        code, headers, _ = c.response()
        assert code == 413 and headers["connection"] == "close"  # no 100 Continue came first
        assert c.eof()


def test_small_unread_body_is_discarded_and_the_connection_kept(serve_app):
    def ignore_body(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    port = serve_app(ignore_body)
    with Client(port) as c:
        c.send(request("POST", body=b"x" * 1000) + request("GET"))
        assert c.response()[2] == b"ok"
        assert c.response()[2] == b"ok"


def test_large_unread_body_closes_the_connection(serve_app):
    def ignore_body(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    port = serve_app(ignore_body)
    with Client(port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 1000)
        code, headers, body = c.response()
        assert (code, body, headers["connection"]) == (200, b"ok", "close")
        assert c.eof()


# -- responses --------------------------------------------------------------------------
def test_head_sends_the_length_but_no_body(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(request("HEAD", "/h") + request("GET", "/g"))
        code, headers, _ = c.response(head_request=True)
        assert code == 200 and headers["content-length"] == str(len(b"HEAD /h 0\n"))
        assert c.response()[2] == b"GET /g 0\n"  # nothing of the HEAD body came in between


def test_head_of_a_streamed_response(serve_app):
    def stream(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"a"
        yield b"b"

    port = serve_app(stream)
    with Client(port) as c:
        c.send(request("HEAD") + request("GET"))
        code, headers, _ = c.response(head_request=True)
        assert code == 200
        assert c.response()[2] == b"ab"


def test_chunked_response_without_a_length(serve_app):
    def stream(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first "
        yield b""  # an empty block is allowed and sends nothing
        yield b"second"

    port = serve_app(stream)
    with Client(port) as c:
        c.send(request("GET") + request("GET"))
        for _ in range(2):
            code, headers, body = c.response()
            assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
            assert body == b"first second"


def test_list_of_several_blocks_gets_a_content_length(serve_app):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"a", b"bc", b""]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET"))
        code, headers, body = c.response()
        assert headers["content-length"] == "3" and body == b"abc"


def test_no_content_and_not_modified_have_no_body(serve_app):
    def app(environ, start_response):
        start_response(environ["PATH_INFO"][1:] + " Whatever", [])
        return [b""]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET", "/204") + request("GET", "/304") + request("GET", "/200"))
        assert c.response()[0] == 204
        assert c.response()[0] == 304
        code, headers, body = c.response()
        assert (code, headers["content-length"], body) == (200, "0", b"")


def test_write_callable(serve_app):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"twice ")
        return [b"then returned"]

    def app_with_length(environ, start_response):
        write = start_response("200 OK", [("Content-Length", "5")])
        write(b"hel")
        return iter([b"lo"])

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET"))
        code, headers, body = c.response()
        assert headers["transfer-encoding"] == "chunked" and body == b"written twice then returned"
    port = serve_app(app_with_length)
    with Client(port) as c:
        c.send(request("GET") + request("GET"))
        assert c.response()[2] == b"hello"
        assert c.response()[2] == b"hello"


class Closing:
    """An application iterable that records its close()."""

    closed: List[str] = []

    def __init__(self, name: str, blocks: List[bytes], fail: bool = False) -> None:
        self.name = name
        self.blocks = blocks
        self.fail = fail

    def __iter__(self) -> Iterator[bytes]:
        for block in self.blocks:
            yield block
        if self.fail:
            raise RuntimeError("failed while streaming")

    def close(self) -> None:
        Closing.closed.append(self.name)


def test_close_of_the_iterable_is_called(serve_app, capfd):
    Closing.closed = []

    def app(environ, start_response):
        name = environ["PATH_INFO"][1:]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(name, [b"x", b"y"], fail=name == "fail")

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET", "/one") + request("HEAD", "/head") + request("GET", "/two"))
        assert c.response()[2] == b"xy"
        c.response(head_request=True)
        assert c.response()[2] == b"xy"
    with Client(port) as c:
        c.send(request("GET", "/fail"))
        code, headers = c.head()
        assert code == 200 and headers["transfer-encoding"] == "chunked"
        assert b"0\r\n\r\n" not in c.rest()  # the response ends without its last chunk
    assert Closing.closed == ["one", "head", "two", "fail"]
    assert "failed while streaming" in capfd.readouterr().err


def test_application_error_before_the_response_is_a_500(serve_app, capfd):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise ValueError("boom")
        if environ["PATH_INFO"] == "/late":
            start_response("200 OK", [("Content-Length", "2")])
            raise ValueError("late boom")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    port = serve_app(app)
    for path in ("/boom", "/late"):
        with Client(port) as c:
            c.send(request("GET", "/fine") + request("GET", path) + request("GET", "/never"))
            assert c.response()[2] == b"ok"
            code, headers, body = c.response()
            assert (code, headers["connection"], body) == (500, "close", b"Internal Server Error")
            assert c.eof()  # the pipelined third request is not answered
    with Client(port) as c:
        c.send(request("GET", "/fine"))
        assert c.response()[2] == b"ok"
    err = capfd.readouterr().err
    assert "ValueError: boom" in err and "ValueError: late boom" in err


def test_exc_info_replaces_a_response_not_sent_yet(serve_app):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        try:
            raise KeyError("x")
        except KeyError:
            import sys
            start_response("503 Service Unavailable", [("Content-Length", "4")], sys.exc_info())
        return [b"busy"]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET"))
        code, _, body = c.response()
        assert (code, body) == (503, b"busy")


def test_header_injection_in_the_response_is_refused(serve_app, capfd):
    def app(environ, start_response):
        start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: x=1")])
        return [b"no"]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET"))
        code, headers, _ = c.response()
        assert code == 500 and "set-cookie" not in headers
    assert "ValueError" in capfd.readouterr().err


def test_connection_close_from_the_application(serve_app):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "3"), ("Connection", "close")])
        return [b"bye"]

    port = serve_app(app)
    with Client(port) as c:
        c.send(request("GET") + request("GET"))
        assert c.response()[2] == b"bye"
        assert c.eof()


# -- HTTP/1.0 and Connection ------------------------------------------------------------
def test_http_1_0_closes_by_default(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(request("GET", "/old", version="HTTP/1.0"))
        code, headers, body = c.response()
        assert headers["connection"] == "close" and body == b"GET /old 0\n"
        assert c.eof()


def test_http_1_0_keep_alive(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        for _ in range(2):
            c.send(request("GET", "/ka", version="HTTP/1.0", headers=["Connection: Keep-Alive"]))
            code, headers, body = c.response()
            assert headers["connection"] == "keep-alive" and body == b"GET /ka 0\n"


def test_http_1_0_streamed_response_is_delimited_by_the_close(serve_app):
    def stream(environ, start_response):
        start_response("200 OK", [])
        yield b"part1 "
        yield b"part2"

    port = serve_app(stream)
    with Client(port) as c:
        c.send(request("GET", version="HTTP/1.0", headers=["Connection: keep-alive"]))
        code, headers, body = c.response()
        assert "transfer-encoding" not in headers and headers["connection"] == "close"
        assert body == b"part1 part2"


def test_connection_close_from_the_client(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(request("GET", headers=["Connection: close"]) + request("GET"))
        code, headers, _ = c.response()
        assert headers["connection"] == "close"
        assert c.eof()


# -- invalid and oversized request heads ------------------------------------------------
@pytest.mark.parametrize("head,status", [
    (b"GET /\r\n\r\n", 400),                                                  # HTTP/0.9
    (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),                              # not a method token
    (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),                              # a bare CR
    (b"GET / HTTP/1.1\r\n folded-first: x\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
])
def test_invalid_request_heads_get_a_fixed_answer(serve_app, head, status):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(head)
        code, headers, _ = c.response()
        assert code == status and headers["connection"] == "close"
        assert c.eof()


def test_request_line_over_the_cap_is_414_while_it_is_read(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        # No line end at all: the answer comes once the cap is crossed, not at the end.
        c.send(b"GET /" + b"a" * (siothread.serving.MAX_REQUEST_LINE + 10))
        code, _, body = c.response()
        assert code == 414 and body == b"URI Too Long"
        assert c.rest() == b""


def test_head_over_the_cap_is_431_while_it_is_read(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        pad = b"X-Pad: " + b"p" * 1000 + b"\r\n"
        try:
            for _ in range(siothread.serving.MAX_HEADER_BYTES // len(pad) + 2):
                c.send(pad)
        except OSError:
            pass  # the server answered and closed while the head was still arriving
        code, _, body = c.response()
        assert code == 431


def test_too_many_header_fields_is_431(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        fields = "".join(f"X-F{i}: v\r\n" for i in range(siothread.serving.MAX_HEADERS + 1))
        c.send(f"GET / HTTP/1.1\r\n{fields}\r\n".encode())
        assert c.response()[0] == 431


# -- the environ ------------------------------------------------------------------------
def test_environ(serve_app):
    port = serve_app(environ_app)
    with Client(port) as c:
        local_port = c.sock.getsockname()[1]
        c.send(b"POST /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.org\r\nX-Multi: 1\r\nX-Multi: 2\r\n"
               b"Cookie: a=1\r\nCookie: b=2\r\nX_Sneaky: dropped\r\nX-Fold: one\r\n  two\r\n"
               b"Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n")
        env = json.loads(c.response()[2])
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_PORT"] == str(port) and env["SERVER_NAME"]
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"] == str(local_port)
    assert env["HTTP_HOST"] == "example.org"
    assert env["HTTP_X_MULTI"] == "1,2"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_X_FOLD"] == "one two"
    assert "HTTP_X_SNEAKY" not in env
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "0"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.multithread"] is False and env["wsgi.run_once"] is False


def test_absolute_form_target(serve_app):
    port = serve_app(echo_app)
    with Client(port) as c:
        c.send(request("GET", "http://example.org/abs/path?q=1"))
        assert c.response()[2] == b"GET /abs/path 0\n"


def test_access_log(serve_app):
    log = io.StringIO()
    port = serve_app(echo_app, log=log)
    with Client(port) as c:
        c.send(request("POST", "/logged?q=1", body=b"abc"))
        c.response()
    line = log.getvalue()
    assert '"POST /logged?q=1 HTTP/1.1" 200 ' in line and line.startswith("127.0.0.1 - - [")


# -- timeouts ---------------------------------------------------------------------------
def test_idle_keep_alive_connection_is_closed(serve_app):
    port = serve_app(echo_app, header_timeout=0.2, idle_timeout=0.2)
    with Client(port) as c:
        c.send(request("GET"))
        assert c.response()[0] == 200
        assert c.eof()  # no answer: an idle connection just ends


def test_incomplete_head_gets_408_after_the_header_timeout(serve_app):
    port = serve_app(echo_app, header_timeout=0.3)
    with Client(port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        code, headers, _ = c.response()
        assert code == 408 and headers["connection"] == "close"
        assert c.eof()


def test_silent_connection_is_closed_after_the_header_timeout(serve_app):
    port = serve_app(echo_app, header_timeout=0.3)
    with Client(port) as c:
        assert c.rest() == b""


# -- with WSGIApp -----------------------------------------------------------------------
def test_wsgiapp_engine_and_other_app_on_one_connection(serve_app):
    eio = EngineServer(ping_interval=5, ping_timeout=5)
    app = siothread.WSGIApp(eio, other_wsgi_app=echo_app)
    port = serve_app(app)
    try:
        with Client(port) as c:
            c.send(request("GET", "/socket.io/?EIO=4&transport=polling"))
            code, headers, body = c.response()
            assert code == 200 and body.startswith(b"0{")
            sid = json.loads(body[1:])["sid"]
            c.send(request("GET", "/elsewhere"))
            assert c.response()[2] == b"GET /elsewhere 0\n"
            # a message over POST, pipelined with the GET that collects the echo
            c.send(request("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", body=b"4hi"))
            assert c.response()[2] == b"ok"
            with Client(port) as poll:
                eio.send(sid, "there")
                poll.send(request("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}"))
                assert poll.response()[2] == b"4there"
            c.send(b"POST /socket.io/?EIO=4&transport=polling&sid=" + sid.encode()
                   + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n4a\r\n0\r\n\r\n")
            assert c.response()[2] == b"ok"
            eio.disconnect(sid)
    finally:
        eio.shutdown(timeout=1)


def test_parked_get_notices_the_client_leaving(serve_app):
    eio = EngineServer(ping_interval=5, ping_timeout=5)
    reasons: List[str] = []
    eio.on("disconnect", lambda sid, reason: reasons.append(reason))
    port = serve_app(siothread.WSGIApp(eio))
    try:
        with Client(port) as c:
            c.send(request("GET", "/socket.io/?EIO=4&transport=polling"))
            sid = json.loads(c.response()[2][1:])["sid"]
            c.send(request("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}"))
            gevent.sleep(0.1)  # the GET is parked
        with gevent.Timeout(5):
            while not reasons:
                gevent.sleep(0.02)
        assert reasons == ["transport error"]
    finally:
        eio.shutdown(timeout=1)
