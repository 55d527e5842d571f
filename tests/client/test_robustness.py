"""K1 and K2 of the robustness plan: TLS verification, and servers that misbehave.

K1: a self-signed TLS server is refused unless ``ssl_verify=False`` or its
certificate is given as the CA (CVE-2016-10536 was engine.io-client's
``rejectUnauthorized`` defaulting to false).

K2: a malicious or broken server (oversize, deeply nested, endless, silent or
malformed answers) makes the client raise our ConnectionError / ProtocolError
or end the session with reason "parse error", within its timeouts, never hang.
The broken servers are raw sockets in this file.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from client_helpers import TRANSPORTS, client_kwargs, wait_for

from siothread.client import Client, EngineClient, ProtocolConnectionError
from siothread.errors import ConnectionError, ProtocolError, RemoteProtocolError

CERTS = Path(__file__).resolve().parent / "certs"


# --- K1 -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    """(cert, key) for 127.0.0.1: made now with openssl, else the stored pair."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return str(CERTS / "cert.pem"), str(CERTS / "key.pem")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_server(servers, self_signed):
    cert, key = self_signed
    srv = servers.fresh(tls={"cert": cert, "key": key})
    yield srv
    srv.stop()


@pytest.mark.parametrize("transports", (["polling"], ["websocket"]), ids="+".join)
def test_k1_self_signed_certificate_is_refused_by_default(tls_server, transports):
    c = Client(**client_kwargs())
    with pytest.raises(ConnectionError) as info:
        c.connect(tls_server.url, transports=transports)
    assert "certificate" in str(info.value).lower() or "TLS" in str(info.value)
    assert not c.connected
    c.disconnect()


# urllib3 warns about every unverified request: the opt-out stays visible to users.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("transports", TRANSPORTS, ids="+".join)
def test_k1_opt_out_and_explicit_ca(servers, tls_server, self_signed, transports):
    for verify in (False, self_signed[0]):
        c = Client(**client_kwargs(ssl_verify=verify))
        try:
            c.connect(tls_server.url, transports=list(transports))
            assert c.call("echo", b"\x00secure", timeout=5) == b"\x00secure"
            assert c.transport() == ("polling" if transports == ("polling",) else "websocket")
        finally:
            c.disconnect()


# --- raw misbehaving servers --------------------------------------------------------------

Conn = socket.socket


class RawServer:
    """A TCP server whose ``handler(conn, server)`` answers each connection as a test wants."""

    def __init__(self, handler: Callable[[Conn, "RawServer"], None]) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0
        self.stopping = threading.Event()
        self._conns: List[Conn] = []
        self._threads: List[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: Conn) -> None:
        try:
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        # Wake the acceptor with a connection rather than closing the socket under it.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._acceptor.join(5)
        self.sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)


@pytest.fixture
def raw_server():
    started: List[RawServer] = []

    def start(handler: Callable[[Conn, RawServer], None]) -> RawServer:
        srv = RawServer(handler)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.close()


def read_request(conn: Conn) -> Tuple[str, str, Dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += conn.recv(65536)
    return method, path, headers, body


def respond(conn: Conn, body: bytes, status: str = "200 OK", extra: str = "") -> None:
    conn.sendall((f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                  f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body)


OPEN = ('0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,'
        '"maxPayload":1000000}')


def handshake_then(answers: List[bytes]) -> Callable[[Conn, RawServer], None]:
    """Answer the polling handshake with OPEN, then each GET with the next answer (then hang)."""
    gets = iter(answers)

    def handler(conn: Conn, server: RawServer) -> None:
        while True:
            method, path, _, _ = read_request(conn)
            if method == "POST":
                respond(conn, b"ok")
            elif "sid=" not in path:
                respond(conn, OPEN.encode())
            else:
                answer = next(gets, None)
                if answer is None:
                    server.stopping.wait(30)
                    return
                respond(conn, answer)

    return handler


# --- K2 over long-polling -----------------------------------------------------------------

def connect_fails(url: str, exc_type: type = ConnectionError, **options: Any) -> BaseException:
    c = Client(**client_kwargs(request_timeout=1, **options))
    started = time.monotonic()
    with pytest.raises(exc_type) as info:
        c.connect(url, transports=["polling"])
    assert time.monotonic() - started < 3
    assert not c.connected
    c.disconnect()
    return info.value


@pytest.mark.parametrize("body", [
    b"garbage",
    b"0{not json",
    b"0" + b"[" * 100_000,
    b'0{"sid":"abc","pingInterval":-5}',
    b'0{"upgrades":[]}',
    b'4hello',
    b"0" + b"\x1e" * 5000,
], ids=["garbage", "bad-json", "deep-json", "bad-interval", "no-sid", "not-open", "separators"])
def test_k2_malformed_handshake_is_a_protocol_error(raw_server, body):
    def handler(conn: Conn, server: RawServer) -> None:
        read_request(conn)
        respond(conn, body)

    srv = raw_server(handler)
    err = connect_fails(srv.url, ProtocolConnectionError)
    assert isinstance(err, ProtocolError) and isinstance(err, RemoteProtocolError)


def test_k2_oversize_response_is_refused_before_reading(raw_server):
    sent: List[int] = []

    def handler(conn: Conn, server: RawServer) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
        total = 0
        try:
            while total < 50_000_000 and not server.stopping.is_set():
                conn.sendall(b"x" * 65536)
                total += 65536
        finally:
            sent.append(total)

    srv = raw_server(handler)
    connect_fails(srv.url, ProtocolConnectionError, max_payload=100_000)


def test_k2_oversize_chunked_response_is_cut_off(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        while not server.stopping.is_set():
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    srv = raw_server(handler)
    connect_fails(srv.url, ProtocolConnectionError, max_payload=1_000_000)


def test_k2_endless_trickle_is_cut_off_by_the_deadline(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not server.stopping.wait(0.05):
            conn.sendall(b"1\r\n0\r\n")

    srv = raw_server(handler)
    connect_fails(srv.url, ProtocolConnectionError)


def test_k2_silent_server_times_out(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        server.stopping.wait(30)

    srv = raw_server(handler)
    connect_fails(srv.url)


def test_k2_refused_handshake_carries_the_server_error(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        read_request(conn)
        respond(conn, b'{"code":4,"message":"Forbidden"}', status="403 Forbidden")

    srv = raw_server(handler)
    err = connect_fails(srv.url)
    assert "Forbidden" in err.message and err.data == {"code": 4, "message": "Forbidden"}


@pytest.mark.parametrize("answer", [
    b"42[" + b"[" * 5000 + b"]" * 5000 + b"]",      # nested deeper than the codec allows
    b"4garbage",                                    # not a Socket.IO packet
    b"9",                                           # not an Engine.IO packet
    b"bnot base64!",                                # invalid base64 binary
    b'451-["x",{"_placeholder":true,"num":7}]',      # placeholder out of range
])
def test_k2_bad_packets_after_connecting_end_the_session(raw_server, answer):
    srv = raw_server(handshake_then([b'40{"sid":"s1"}', answer]))
    c = Client(**client_kwargs(reconnection=False, request_timeout=1))
    reasons: List[str] = []
    c.on("disconnect", reasons.append)
    c.connect(srv.url, transports=["polling"])
    assert c.sid == "s1"
    assert wait_for(lambda: reasons == ["parse error"], timeout=3)
    c.wait()
    c.disconnect()


def test_k2_call_returns_within_its_timeout_when_the_server_stalls(raw_server):
    srv = raw_server(handshake_then([b'40{"sid":"s1"}']))
    c = Client(**client_kwargs(request_timeout=1))
    c.connect(srv.url, transports=["polling"])
    from siothread.errors import TimeoutError

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        c.call("anything", timeout=0.3)
    assert time.monotonic() - started < 1
    c.disconnect()


# --- K2 over WebSocket ----------------------------------------------------------------------

def ws_accept(conn: Conn) -> None:
    _, _, headers, _ = read_request(conn)
    key = headers["sec-websocket-key"]
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                              .digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())


def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, length: Optional[int] = None) -> bytes:
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


def engine_session(url: str, **options: Any) -> Tuple[EngineClient, List[str], List[Any]]:
    reasons: List[str] = []
    messages: List[Any] = []
    eng = EngineClient(messages.append, reasons.append, request_timeout=1, **options)
    eng.connect(url, transports=["websocket"])
    return eng, reasons, messages


def test_k2_websocket_oversize_frame_header(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        ws_accept(conn)
        conn.sendall(ws_frame(OPEN.encode()))
        conn.sendall(ws_frame(b"", opcode=1, length=2**40))  # announces a terabyte
        server.stopping.wait(30)

    srv = raw_server(handler)
    eng, reasons, _ = engine_session(srv.url, max_payload=1_000_000)
    assert wait_for(lambda: reasons == ["parse error"], timeout=2)
    eng.disconnect()
    eng.join()


def test_k2_websocket_endless_fragments(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        ws_accept(conn)
        conn.sendall(ws_frame(OPEN.encode()))
        conn.sendall(ws_frame(b"4", opcode=1, fin=False))
        while not server.stopping.is_set():
            conn.sendall(ws_frame(b"x" * 65536, opcode=0, fin=False))

    srv = raw_server(handler)
    eng, reasons, messages = engine_session(srv.url, max_payload=1_000_000)
    assert wait_for(lambda: reasons == ["parse error"], timeout=3)
    assert messages == []
    eng.disconnect()
    eng.join()


def test_k2_websocket_without_open_packet_times_out(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        ws_accept(conn)
        while not server.stopping.wait(0.1):
            conn.sendall(ws_frame(b"", opcode=9))  # pings, never an OPEN packet

    srv = raw_server(handler)
    c = Client(**client_kwargs(request_timeout=1))
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        c.connect(srv.url, transports=["websocket"])
    assert time.monotonic() - started < 3
    c.disconnect()


def test_k2_websocket_oversize_open_packet(raw_server):
    def handler(conn: Conn, server: RawServer) -> None:
        ws_accept(conn)
        conn.sendall(ws_frame(b"0" + b"x" * 200_000))
        server.stopping.wait(30)

    srv = raw_server(handler)
    c = Client(**client_kwargs(request_timeout=1, max_payload=100_000))
    with pytest.raises(ProtocolConnectionError):
        c.connect(srv.url, transports=["websocket"])
    c.disconnect()


def test_k2_dead_server_after_handshake_is_a_ping_timeout(raw_server):
    fast_open = OPEN.replace("25000", "200").replace("20000", "200")

    def handler(conn: Conn, server: RawServer) -> None:
        ws_accept(conn)
        conn.sendall(ws_frame(fast_open.encode()))
        server.stopping.wait(30)  # then silence: no PING ever

    srv = raw_server(handler)
    started = time.monotonic()
    eng, reasons, _ = engine_session(srv.url)
    assert wait_for(lambda: reasons == ["ping timeout"], timeout=2)
    assert time.monotonic() - started < 1.5
    eng.disconnect()
    eng.join()


def test_protocol_connection_error_is_both_kinds():
    err = ProtocolConnectionError("bad", {"x": 1})
    assert isinstance(err, ConnectionError) and isinstance(err, RemoteProtocolError)
    assert err.message == "bad" and err.data == {"x": 1}
    assert json.dumps(err.data)
