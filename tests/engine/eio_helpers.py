"""Raw-protocol helpers shared by the Engine.IO integration tests (websocket-client, raw sockets)."""
from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any, List, Optional, Tuple

import websocket  # websocket-client

CLOSED = "closed"


def ws_connect(url: str, **kw: Any) -> websocket.WebSocket:
    kw.setdefault("timeout", 5)
    return websocket.create_connection(url, **kw)


def ws_close(ws: websocket.WebSocket) -> None:
    """Close politely and always release the socket (websocket-client keeps it open when it
    already answered the server's close frame)."""
    try:
        ws.close(timeout=1)
    finally:
        ws.shutdown()


def ws_open(url: str, **kw: Any) -> Tuple[websocket.WebSocket, dict]:
    """Open a WebSocket-only session; returns (ws, open packet data)."""
    ws = ws_connect(url, **kw)
    first = ws.recv()
    assert isinstance(first, str) and first.startswith("0"), first
    return ws, json.loads(first[1:])


def ws_next(ws: websocket.WebSocket) -> Any:
    """The next data message (str or bytes), or ``("close", code)`` when a close frame arrives,
    or ``CLOSED`` when the TCP connection ends without one."""
    while True:
        try:
            opcode, frame = ws.recv_data_frame(True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return CLOSED
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return frame.data.decode("utf-8")
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return bytes(frame.data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            return ("close", code)
        # ping/pong: websocket-client answers pings itself; keep reading


def ws_until_close(ws: websocket.WebSocket, limit: int = 100) -> Tuple[List[Any], Any]:
    """Read until the connection closes; returns (messages seen before, close result)."""
    seen: List[Any] = []
    for _ in range(limit):
        item = ws_next(ws)
        if item == CLOSED or (isinstance(item, tuple) and item[0] == "close"):
            return seen, item
        seen.append(item)
    raise AssertionError(f"no close after {limit} messages: {seen[-5:]}")


def upgrade(ws_url: str, **kw: Any) -> websocket.WebSocket:
    """Open the WebSocket for an existing polling sid and complete the probe (not the ``5``)."""
    ws = ws_connect(ws_url, **kw)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    return ws


def raw_http(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` on a fresh TCP connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0


def close_code(result: Any) -> Optional[int]:
    if isinstance(result, tuple) and result[0] == "close":
        return int(result[1])
    return None
