"""examples/flask_chat in headless Chromium: two users, one room, a network drop and recovery.

Two browser contexts (two cookie jars) log in by nickname through the Flask
login form, join the same room, see each other's typing indicator and
messages. Then Alice's network goes offline and her connection closes; Bob
says two things; the network comes back and socket.io-client reconnects: the
server recovers her session (same sid, still in the room, no join needed) and
replays what she missed, each message shown once.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.browser.example_server import example_server
from tests.conftest import JS_DIR, require_node_modules, require_program


@pytest.fixture
def flask_chat():
    with example_server("flask_chat") as url:
        yield url


@pytest.mark.node
def test_two_users_chat_type_and_recover_after_a_network_drop(flask_chat):
    require_node_modules()
    require_program("chromium", "the Debian package chromium (scripts/test.sh installs it as root)")
    out = subprocess.run(["node", str(JS_DIR / "browser_flask_chat.js"), flask_chat],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "error" not in result, result
    steps = result["steps"]
    assert steps["typingSeen"] == "alice is typing…"
    for log in steps["before"].values():
        assert log[-2:] == ["alice: hello from alice", "bob: hi alice"]
    assert steps["statusOffline"].startswith("disconnected")
    assert steps["statusBack"].startswith("recovered")
    assert steps["sidAfter"] == steps["sidBefore"]
    assert steps["aliceRooms"] == ["lobby"]
    alice = steps["after"]["alice"]
    for line in ("bob: while you were away 1", "bob: while you were away 2"):
        assert alice.count(line) == 1, alice
    assert alice[-4:] == ["bob: while you were away 1", "bob: while you were away 2", "alice: back again",
                          "bob: welcome back"]
    assert steps["after"]["bob"][-2:] == ["alice: back again", "bob: welcome back"]
    assert sum(line.endswith("joined") for line in alice) == 2  # no second join after the recovery
