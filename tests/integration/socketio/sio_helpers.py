"""Helpers for the Socket.IO integration tests: the server application and the real peers.

:func:`build_app` registers the handlers every scenario expects; :func:`run_node`
runs ``tests/js/sio_scenarios.js`` (socket.io-client 4.8) and returns its JSON output.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any, Callable, Dict, List, Tuple

import pytest

from siothread.errors import ConnectionRefusedError
from siothread.server import Server
from tests.conftest import require_node_modules

__all__ = ["App", "build_app", "register", "run_node", "js_bytes", "require_node_modules"]


class App:
    """A running server and what its handlers recorded."""

    def __init__(self, sio: Server, wsgi_server: Any) -> None:
        self.sio = sio
        self.wsgi_server = wsgi_server
        self.port = wsgi_server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"
        self.disconnects: List[Tuple[str, str, str]] = []
        self.connects: List[Tuple[str, str, Dict[str, Any]]] = []

    def close(self) -> None:
        self.sio.shutdown(timeout=2)
        self.wsgi_server.stop(timeout=2)


def build_app(sio: Server, app: App, namespaces: Tuple[str, ...] = ("/", "/chat", "/custom")) -> None:
    """The handlers the scenarios and conformance tests expect."""
    for ns in namespaces:
        register(sio, app, ns)


def register(sio: Server, app: App, ns: str) -> None:
    def on(event: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return sio.on(event, namespace=ns)  # type: ignore[no-any-return]

    @on("connect")
    def connect(sid: str, environ: dict, auth: Dict[str, Any]) -> None:
        if auth.get("refuse"):
            raise ConnectionRefusedError("refused", {"why": auth["refuse"]})
        app.connects.append((ns, sid, auth))
        # the v5 test suite's server: socket.emit("auth", socket.handshake.auth)
        sio.emit("auth", auth, to=sid, namespace=ns)
        sio.emit("welcome", {"auth": auth, "sid": sid}, to=sid, namespace=ns)

    @on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        app.disconnects.append((ns, sid, reason))

    @on("message")
    def message(sid: str, *args: Any) -> None:
        sio.emit("message-back", args, to=sid, namespace=ns)

    @on("message-with-ack")
    def message_with_ack(sid: str, *args: Any) -> Any:
        return args

    @on("echo")
    def echo(sid: str, *args: Any) -> Any:
        return args

    @on("join")
    def join(sid: str, room: str) -> str:
        sio.enter_room(sid, room, namespace=ns)
        return room

    @on("to-room")
    def to_room(sid: str, room: str, data: Any) -> bool:
        sio.emit("room-msg", data, to=room, skip_sid=sid, namespace=ns)
        return True

    @on("ask-me")
    def ask_me(sid: str, x: int) -> Any:
        return sio.call("question", x, to=sid, namespace=ns, timeout=3)

    @on("ask-me-unanswered")
    def ask_me_unanswered(sid: str) -> Any:
        box: List[Any] = []
        done = sio.runtime.Event()

        def callback(err: Any, *args: Any) -> None:
            box.append(type(err).__name__ if err is not None else list(args))
            done.set()

        sio.emit("ignored", 1, to=sid, namespace=ns, callback=callback, timeout=0.2)
        done.wait(3)
        return box[0] if box else "no callback"

    @on("broadcast-ack")
    def broadcast_ack(sid: str, room: str, question: str) -> Any:
        result = sio.call("poll", question, to=room, namespace=ns, timeout=0.5)
        return {"responses": result.responses, "timed_out": sorted(result.timed_out),
                "disconnected": sorted(result.disconnected)}

    @on("kick")
    def kick(sid: str) -> None:
        sio.disconnect(sid, namespace=ns)


def run_node(url: str, scenario: str, timeout: float = 20, *, script: str = "sio_scenarios.js",
             package: str = "socket.io-client", **opts: Any) -> Dict[str, Any]:
    """Run a socket.io-client scenario of ``script`` (which needs the npm ``package``); returns its
    JSON result (fails the test on error)."""
    js = require_node_modules(package)
    proc = subprocess.run(["node", str(js / script), url, scenario, json.dumps(opts)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(js))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"node scenario {scenario} failed: {proc.stdout} {proc.stderr}")
    result = json.loads(lines[-1])
    return result  # type: ignore[no-any-return]


def js_bytes(data: bytes) -> Dict[str, List[int]]:
    """How sio_scenarios.js reports a Buffer."""
    return {"$bytes": list(data)}
