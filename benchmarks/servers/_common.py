"""Shared bits of the Python fixtures: arguments, the handlers, a watchdog that ends the server on its own."""
import argparse
import os
import threading
import time
from typing import Any


def parse_args(description: str, metrics: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-buffer", type=int, default=10_000_000,
                        help="largest accepted message (bytes); 1 MB payloads need more than the default")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="the server exits by itself after this long")
    parser.add_argument("--ping-interval", type=float, default=None,
                        help="Engine.IO ping interval in seconds (default: the server's own, 25)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (siothread only: siothread.serve(app, workers=N))")
    if metrics:
        parser.add_argument("--metrics", action="store_true", help="attach siothread.metrics")
    return parser.parse_args()


def start_watchdog(max_seconds: float) -> None:
    """Exit when the parent (the driver) goes away or after ``max_seconds``."""
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent or time.monotonic() > deadline:
                os._exit(0)

    # a thread: a greenlet once gevent patched threading, an OS thread in the threading-mode fixtures
    threading.Thread(target=watch, daemon=True).start()


def add_handlers(sio: Any) -> None:
    """The benchmark's behaviour, the same for every Python stack (python-socketio's API)."""

    @sio.on("echo")
    def echo(sid, *args):
        sio.emit("echo", args, to=sid)

    @sio.on("ack")
    def ack(sid, *args):
        return args

    @sio.on("join")
    def join(sid, *args):
        sio.enter_room(sid, "bench")

    @sio.on("broadcast")
    def broadcast(sid, *args):
        sio.emit("broadcast", args, room="bench")
