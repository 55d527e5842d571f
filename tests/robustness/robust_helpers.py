"""Raw-socket peers for the robustness suite.

The misbehaving clients here speak HTTP and RFC 6455 by hand (the urllib3
``test_socketlevel.py`` pattern): a well-behaved client library cannot send a
frame announcing 2**63 bytes or stop in the middle of a header. The server they
talk to is the shared recording echo server, :mod:`tests.support.engine_harness`.
"""
from __future__ import annotations

import base64
import gc
import json
import os
import socket
import struct
import time
from typing import Any, List, Optional, Tuple

import gevent.lock

from tests.support.engine_harness import EngineHarness


def open_fds() -> int:
    """Open fds of this process (after a collection: client libraries close sockets in finalizers)."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


# -- raw HTTP -------------------------------------------------------------------------
def connect(port: int, timeout: float = 5.0, rcvbuf: Optional[int] = None) -> socket.socket:
    """A TCP connection to the server; ``rcvbuf`` shrinks the receive buffer (a slow reader)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def read_response_head(sock: socket.socket) -> Tuple[int, dict, bytes]:
    """Read a response's status line and headers; returns (status, headers, bytes read past them)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the response head: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def read_response(sock: socket.socket) -> Tuple[int, dict, bytes]:
    """One complete response with a Content-Length body."""
    status, headers, rest = read_response_head(sock)
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def read_until_eof(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything until the peer closes (or ``limit`` seconds pass: then raise)."""
    chunks = []
    deadline = time.monotonic() + limit
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError("the server did not close the connection") from None
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def raw_handshake(h: EngineHarness) -> Tuple[int, bytes]:
    """A polling handshake on its own connection (``Connection: close``); returns (status, body)."""
    with connect(h.port) as s:
        s.sendall(f"GET {h.target()} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        status, _, body = read_response(s)
    return status, body


def reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- raw WebSocket ----------------------------------------------------------------------
def ws_request(target: str, port: int, extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def ws_handshake(h: EngineHarness, sid: Optional[str] = None, extra: str = "",
                 rcvbuf: Optional[int] = None) -> Tuple[socket.socket, bytes]:
    """A raw WebSocket after its 101; returns (socket, bytes already read after the head)."""
    sock = connect(h.port, rcvbuf=rcvbuf)
    sock.sendall(ws_request(h.target("websocket", sid), h.port, extra))
    status, headers, rest = read_response_head(sock)
    assert status == 101, (status, headers)
    return sock, rest


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bool = True,
          length: Optional[int] = None) -> bytes:
    """A client frame; ``length`` overrides the announced payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


class FrameReader:
    """Reads server frames (unmasked) from a raw socket."""

    def __init__(self, sock: socket.socket, initial: bytes = b"") -> None:
        self.sock = sock
        self.buf = initial

    def _need(self, n: int) -> bool:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return False
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next(self) -> Optional[Tuple[int, bytes]]:
        """(opcode, payload) of the next frame, or None when the connection ended."""
        if not self._need(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if not self._need(4):
                return None
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            if not self._need(10):
                return None
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        if not self._need(pos + n):
            return None
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        return b0 & 0x0F, payload

    def until_close(self, limit: int = 1000) -> Tuple[List[Tuple[int, bytes]], Optional[int]]:
        """Frames seen before the close frame, and its code (None: the TCP connection just ended)."""
        seen = []
        for _ in range(limit):
            item = self.next()
            if item is None:
                return seen, None
            op, payload = item
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return seen, code
            seen.append(item)
        raise AssertionError(f"no close within {limit} frames")


def ws_open_raw(h: EngineHarness, extra: str = "",
                rcvbuf: Optional[int] = None) -> Tuple[socket.socket, FrameReader, str]:
    """A WebSocket-only Engine.IO session on a raw socket; returns (socket, reader, sid)."""
    sock, rest = ws_handshake(h, extra=extra, rcvbuf=rcvbuf)
    reader = FrameReader(sock, rest)
    op, payload = reader.next()  # type: ignore[misc]
    assert op == 1 and payload.startswith(b"0"), payload
    return sock, reader, str(json.loads(payload[1:])["sid"])


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- raw Socket.IO over WebSocket ------------------------------------------------------
class LockedSends:
    """The peer's socket with whole-``sendall`` exclusion: the flood is written in pieces, and
    a PONG written by the reading greenlet must fall between two frames, not inside one."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self._lock = gevent.lock.Semaphore()

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class SioPeer:
    """A Socket.IO v5 client on a raw WebSocket (``/socket.io/``), connected to ``/``.

    Answers pings itself; :meth:`recv` returns Socket.IO packets (the text after
    the Engine.IO ``4``, or bytes for an attachment) and None once the server
    closed the connection.
    """

    def __init__(self, port: int, auth: Optional[dict] = None, timeout: float = 15.0,
                 connect_namespace: bool = True) -> None:
        self.sock = connect(port, timeout=timeout)
        self.sock.sendall(ws_request("/socket.io/?EIO=4&transport=websocket", port))
        status, headers, rest = read_response_head(self.sock)
        assert status == 101, (status, headers)
        self.reader = FrameReader(self.sock, rest)
        item = self.reader.next()
        assert item is not None and item[1].startswith(b"0{"), item
        self.sid: Optional[str] = None
        self.close_code: Optional[int] = None
        if connect_namespace:
            self.send("0" + (json.dumps(auth) if auth is not None else ""))
            packet = self.recv()
            assert isinstance(packet, str) and packet.startswith("0{"), packet
            self.sid = str(json.loads(packet[1:])["sid"])

    def send(self, packet: str) -> None:
        """One Socket.IO packet as an Engine.IO MESSAGE (a lone surrogate goes out as invalid UTF-8)."""
        self.sock.sendall(frame(1, ("4" + packet).encode("utf-8", "surrogatepass")))

    def send_binary(self, data: bytes) -> None:
        self.sock.sendall(frame(2, data))

    def recv(self) -> Optional[Any]:
        while True:
            item = self.reader.next()
            if item is None:
                return None
            op, payload = item
            if op == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return None
            if op == 2:
                return payload
            if op != 1:
                continue
            if payload == b"2":
                self.sock.sendall(frame(1, b"3"))
                continue
            if payload.startswith(b"4"):
                return payload[1:].decode()

    def close(self) -> None:
        try:
            self.sock.sendall(frame(8, b"\x03\xe8"))
        except OSError:
            pass
        self.sock.close()
