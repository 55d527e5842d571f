"""Micro benchmark of the WebSocket codec: parse + unmask throughput.

Run: ``python benchmarks/ws_codec_bench.py``. Prints MB/s of payload for
masked client frames of 1 KB, 64 KB and 1 MB, and for a 64 KiB chunk of small
frames, fed the way the transport feeds them (64 KiB reads). When
gevent-websocket is installed, its read path (``WebSocket.read_message`` over
an in-memory stream) is measured on the same bytes for comparison.
"""
from __future__ import annotations

import io
import os
import sys
import time
from typing import Callable, List

from siothread.protocol.websocket import FrameParser, Message, encode_binary, encode_text

CHUNK = 65536


def _best(fn: Callable[[], None], min_time: float = 0.3) -> float:
    """Best wall time of one call over repeated runs (at least ``min_time`` seconds in total)."""
    best = float("inf")
    total = 0.0
    runs = 0
    while total < min_time or runs < 3:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
        runs += 1
    return best


def _chunks(wire: bytes) -> List[bytes]:
    return [wire[i : i + CHUNK] for i in range(0, len(wire), CHUNK)]


def siothread_parse(chunks: List[bytes], count: int) -> Callable[[], None]:
    def run() -> None:
        parser = FrameParser(max_message_size=2_000_000)
        got = 0
        for chunk in chunks:
            parser.feed(chunk)
            for event in parser.events():
                assert isinstance(event, Message)
                got += 1
        assert got == count

    return run


def geventwebsocket_parse(wire: bytes, count: int) -> Callable[[], None]:
    from geventwebsocket.websocket import WebSocket

    class _Handler:
        def __init__(self, data: bytes) -> None:
            self.rfile = io.BufferedReader(io.BytesIO(data), CHUNK)
            self.socket = None

    class _Stream:
        def __init__(self, handler: _Handler) -> None:
            self.handler = handler
            self.read = handler.rfile.read
            self.write = None

    def run() -> None:
        ws = WebSocket({}, _Stream(_Handler(wire)), None)
        for _ in range(count):
            assert ws.read_message() is not None

    return run


def main() -> None:
    cases = [
        ("1 KB binary", [encode_binary(os.urandom(1024), mask=True)] * 64),
        ("64 KB binary", [encode_binary(os.urandom(65536), mask=True)] * 16),
        ("1 MB binary", [encode_binary(os.urandom(1 << 20), mask=True)] * 2),
        ("1 MB text", [encode_text("é" * (1 << 19), mask=True)] * 2),
        ("40 B text x ~1400 (one 64 KiB chunk)", [encode_text("4" + "x" * 39, mask=True)] * 1400),
    ]
    try:
        import geventwebsocket.websocket  # noqa: F401

        have_gws = True
    except ImportError:
        have_gws = False
    print(f"Python {sys.version.split()[0]}")
    print(f"{'case':40} {'siothread':>16} {'gevent-websocket':>18}")
    for name, frames in cases:
        wire = b"".join(frames)
        payload = sum(len(f) for f in frames)  # wire bytes, ~ payload bytes
        dt = _best(siothread_parse(_chunks(wire), len(frames)))
        line = f"{name:40} {payload / dt / 1e6:10.1f} MB/s"
        if have_gws:
            gdt = _best(geventwebsocket_parse(wire, len(frames)), min_time=0.3)
            line += f" {payload / gdt / 1e6:12.1f} MB/s"
        print(line, f"({len(frames) / dt:,.0f} msg/s)")


if __name__ == "__main__":
    main()
