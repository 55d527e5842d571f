"""examples/flask_chat's server side through socketio.test_client (its browser test is tests/browser)."""
from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))
import flask_chat  # noqa: E402

sys.path.remove(str(ROOT / "examples"))


@pytest.fixture(scope="module")
def app():
    return flask_chat.create_app({"SECRET_KEY": "test", "TESTING": True})


def logged_in(app, make_client, nickname):
    http = app.test_client()
    assert http.post("/login", data={"nickname": nickname}).status_code == 302
    return make_client(flask_chat.socketio, app, flask_test_client=http)


def test_login_page_and_refusal_without_a_nickname(app, make_client):
    http = app.test_client()
    assert b'name="nickname"' in http.get("/").data
    assert http.post("/login", data={"nickname": "  "}).status_code == 400
    client = make_client(flask_chat.socketio, app, flask_test_client=http)
    assert not client.is_connected()
    assert client.get_connect_error() == {"message": "login first", "data": {"login": "/"}}


def test_rooms_history_and_acks(app, make_client):
    alice = logged_in(app, make_client, "alice")
    bob = logged_in(app, make_client, "bob")
    joined = alice.emit("join", {"room": "Lobby"}, callback=True)
    assert joined["room"] == "lobby" and joined["members"] == 1
    assert [m["text"] for m in joined["history"]][-1] == "alice joined"
    sent = alice.emit("message", {"room": "lobby", "text": "first"}, callback=True)
    assert sent["ok"]
    assert bob.emit("message", {"room": "lobby", "text": "not a member"}, callback=True) == {"ok": False}
    history = bob.emit("join", {"room": "lobby"}, callback=True)["history"]
    assert [(m["nickname"], m["text"]) for m in history][-2:] == [("alice", "first"), ("server", "bob joined")]
    assert any(m["id"] == sent["id"] for m in history)
    alice.get_received()
    bob.get_received()
    # typing is volatile: dropped for a long-polling client with no request waiting (the test
    # client polls only when asked); tests/browser/test_flask_chat.py sees it arrive over WebSocket
    bob.emit("typing", {"room": "lobby", "typing": True})
    assert bob.get_received() == []
    assert alice.emit("leave", {"room": "lobby"}, callback=True) == {"ok": True}
    # "message" events come as their single argument (Flask-SocketIO's test client format)
    assert [r["args"]["text"] for r in bob.get_received()] == ["alice left"]
    assert alice.emit("join", {"room": "!!"}, callback=True) == {"error": "invalid room"}
