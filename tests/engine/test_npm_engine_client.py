"""The real engine.io-client 6.6.8 (npm) against the siothread Engine.IO server.

The client (``tests/js/eio_client.js``) runs over long-polling only, WebSocket only,
and polling upgraded to WebSocket. It sends text, a Buffer and a numbered stream;
the server echoes everything and sends its own numbered stream from the moment the
session opens, so that, with an upgrade, the stream crosses the upgrade window:
every message must arrive exactly once and in order.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any, List

import gevent
import pytest

from tests.conftest import require_node_modules

pytestmark = pytest.mark.node

COUNT = 100


def run_client(h: Any, mode: str, **options: Any) -> dict:
    js = require_node_modules()
    url = f"http://127.0.0.1:{h.port}"
    proc = subprocess.run(
        ["node", str(js / "eio_client.js"), url, mode, json.dumps(options)],
        capture_output=True, text=True, timeout=30, cwd=str(js),
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout, proc.stderr)
    return json.loads(lines[-1])


def streaming_server(engine_server: Any, **options: Any) -> Any:
    """An echo server that also streams s:0..s:COUNT-1 to each new session and closes on request."""
    h = engine_server(**options)
    streams: List[Any] = []
    eio = h.eio

    def stream(sid: str) -> None:
        for i in range(COUNT):
            if not eio.send(sid, f"s:{i}"):
                return
            gevent.sleep(0.004)

    @eio.on("connect")
    def on_connect(sid: str, environ: dict) -> None:
        h.connects.append(sid)
        streams.append(gevent.spawn(stream, sid))

    @eio.on("message")
    def on_message(sid: str, data: Any) -> None:
        h.messages.append((sid, data))
        if data == "close-me":
            eio.disconnect(sid)
        else:
            eio.send(sid, data)

    h.streams = streams
    return h


def check_exchange(h: Any, result: dict) -> str:
    sid = result["open"]["sid"]
    assert h.connects == [sid]
    texts = result["texts"]
    assert [t for t in texts if not t.startswith("s:")][0] == "hello"
    # no loss, no duplicate, no reordering in either numbered stream
    assert [t for t in texts if t.startswith("c:")] == [f"c:{i}" for i in range(COUNT)]
    assert [t for t in texts if t.startswith("s:")] == [f"s:{i}" for i in range(COUNT)]
    assert len(texts) == 1 + 2 * COUNT
    assert result["binaries"] == [[1, 2, 3]]
    got = [d for s, d in h.messages if s == sid and d != "close-me"]
    assert got[:2] == ["hello", b"\x01\x02\x03"]
    assert got[2:] == [f"c:{i}" for i in range(COUNT)]
    gevent.joinall(h.streams, timeout=5)
    return sid


@pytest.mark.parametrize("mode, transport", [("polling", "polling"), ("websocket", "websocket"),
                                             ("upgrade", "websocket")])
def test_exchange_and_client_close(engine_server, mode, transport):
    h = streaming_server(engine_server, ping_interval=5, ping_timeout=5)
    result = run_client(h, mode)
    assert result["finish"] == "client closed", result
    assert result["errors"] == []
    assert result["openTransport"] == ("websocket" if mode == "websocket" else "polling")
    if mode == "upgrade":
        assert result["upgraded"] == "websocket" and result["upgradeError"] is None
    assert result["transports"][-1] == transport
    sid = check_exchange(h, result)
    # the client's close is seen by the server, with its reason
    assert h.wait_disconnect(sid) == "transport close"
    assert h.eio.sessions == {}


@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
def test_heartbeat_keeps_the_session_alive_then_server_close(engine_server, mode):
    h = streaming_server(engine_server, ping_interval=0.2, ping_timeout=0.2)
    result = run_client(h, mode, stay=1200, end="server")
    assert result["errors"] == []
    assert not result["closedAfterExchange"], result
    assert result["pings"] >= 3, result  # answered, so the session outlived several intervals
    # the server-initiated close is seen by the client
    assert result["finish"] == "closed: transport close", result
    sid = check_exchange(h, result)
    assert h.wait_disconnect(sid) == "server disconnect"
    assert h.eio.sessions == {}


def test_upgrade_during_a_busy_stream(engine_server):
    """A bigger stream, so the upgrade certainly happens while the server is sending."""
    h = engine_server(ping_interval=5, ping_timeout=5)
    eio = h.eio
    done: List[Any] = []

    @eio.on("connect")
    def on_connect(sid: str, environ: dict) -> None:
        h.connects.append(sid)

        def burst() -> None:
            for i in range(COUNT):
                eio.send(sid, f"s:{i}")
                if i % 10 == 0:
                    gevent.sleep(0.01)
            # the client's numbered messages are echoed by the default handler
        done.append(gevent.spawn(burst))

    result = run_client(h, "upgrade")
    assert result["upgraded"] == "websocket", result
    texts = result["texts"]
    assert [t for t in texts if t.startswith("s:")] == [f"s:{i}" for i in range(COUNT)]
    assert [t for t in texts if t.startswith("c:")] == [f"c:{i}" for i in range(COUNT)]
    gevent.joinall(done, timeout=5)
    h.wait_disconnect(result["open"]["sid"])
