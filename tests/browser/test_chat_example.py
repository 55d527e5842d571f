"""The chat example in a real browser (headless Chromium) with a second, independent peer.

Chromium loads the page and the official browser bundle of socket.io-client from the
example's own server, joins, sends a message and upgrades from polling to WebSocket;
python-socketio's client in the same room must receive what the browser said.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest
import socketio as python_socketio

from tests.browser.example_server import example_server
from tests.conftest import JS_DIR, require_node_modules, require_program


@pytest.fixture
def chat_server():
    with example_server("chat_wsgi.py") as url:
        yield url


@pytest.mark.node
def test_chat_in_chromium_reaches_another_client(chat_server):
    require_node_modules()
    require_program("chromium", "the Debian package chromium (scripts/test.sh installs it as root)")
    received = []
    peer = python_socketio.Client()
    peer.on("message", lambda data: received.append(data))
    peer.connect(chat_server, transports=["websocket"])
    try:
        peer.call("join", {"name": "bob"}, timeout=5)
        out = subprocess.run(
            ["node", str(JS_DIR / "browser_chat.js"), chat_server, "alice", "hello from chromium"],
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert "alice: hello from chromium" in result["log"]
        assert "websocket" in result["status"]
        deadline = time.monotonic() + 5
        while {"name": "alice", "text": "hello from chromium"} not in received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {"name": "server", "text": "alice joined"} in received
        assert {"name": "alice", "text": "hello from chromium"} in received
    finally:
        peer.disconnect()
