"""A running flask_siothread app and real peers: socket.io-client 4.8 (Node) and siothread's client.

One server per module (siothread's gevent server on a free port, in this
process). The Node peers log in over HTTP first: the Flask session cookie
travels with the Socket.IO handshake, over WebSocket and over long-polling.
"""
from __future__ import annotations

import json
import subprocess
import time
from typing import Iterator

import pytest
import requests
from flask import Flask, request, session

import siothread
from flask_siothread import (ConnectionRefusedError, Namespace, SocketIO, call, close_room, disconnect, emit,
                             join_room, leave_room, rooms, send)
from tests.conftest import JS_DIR, require_node_modules

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret"
socketio = SocketIO(app)


@app.route("/login/<name>")
def login(name):
    session["user"] = name
    return ""


@app.route("/notify")
def notify():
    socketio.emit("notice", {"by": session.get("user")}, to=request.args["room"])
    return ""


@socketio.on("connect")
def connect(auth):
    if auth.get("room") == "forbidden":
        raise ConnectionRefusedError("not this room", {"room": auth["room"]})
    session["room"] = auth["room"]
    join_room(auth["room"])
    emit("welcome", {"sid": request.sid, "user": session.get("user"), "namespace": request.namespace,
                     "query": request.args.get("x"), "transport": request.args.get("transport")})


@socketio.on("say")
def say(text):
    emit("said", {"from": session.get("user"), "text": text}, to=session["room"], include_self=False)
    return "ok"


@socketio.on("ask")
def ask():
    return call("question", "what?", timeout=5)


@socketio.on("shout")
def shout(text):
    send(text, to=session["room"], include_self=False)


@socketio.on("leave")
def leave():
    leave_room(session["room"])
    return rooms()


@socketio.on("close")
def close(room):
    close_room(room)


@socketio.on("bye")
def bye():
    disconnect()


class Tools(Namespace):
    def on_connect(self, auth):
        send(f"tools for {session.get('user')}")

    def on_boom(self):
        raise KeyError("boom")


socketio.on_namespace(Tools("/tools"))


@socketio.on_error("/tools")
def tools_error(exc):
    return {"error": type(exc).__name__, "event": request.event["message"], "namespace": request.namespace}


answers: list = []


@socketio.on("ask later")
def ask_later():
    def got(answer):
        # the ack callback runs in the Flask context of the event that emitted
        answers.append((request.sid, session.get("user"), answer))

    emit("question", "later?", callback=got)


@socketio.on("bin")
def binary(data):
    return data


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = siothread.make_server(app, "127.0.0.1", 0)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop(timeout=1.0)


def _cookie(url: str, name: str) -> str:
    with requests.Session() as http:
        http.get(f"{url}/login/{name}").raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


@pytest.mark.node
@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
def test_socket_io_client_peers_see_flask_context_rooms_call_binary_and_view_emits(server_url, transports):
    require_node_modules()
    options = {"cookieA": _cookie(server_url, "alice"), "cookieB": _cookie(server_url, "bob"),
               "transports": transports}
    out = subprocess.run(["node", str(JS_DIR / "flask_peer.js"), server_url, json.dumps(options)],
                         capture_output=True, text=True, timeout=40, cwd=str(JS_DIR))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "error" not in result, result
    welcome = result["welcomeA"]
    assert welcome["user"] == "alice" and welcome["namespace"] == "/" and welcome["query"] == "query-value"
    assert welcome["transport"] == transports[0]
    assert result["welcomeB"]["user"] == "bob" and result["welcomeB"]["sid"] != welcome["sid"]
    assert result["sayAck"] == "ok"
    assert result["said"] == {"from": "alice", "text": "hello"}
    assert result["echoToSelf"] is None  # include_self=False
    assert result["asked"] == "answer to what?"
    assert result["bin"] == [1, 2, 255]
    assert result["notifyStatus"] == 200 and result["notice"] == {"by": "alice"}
    assert result["refused"] == {"message": "not this room", "data": {"room": "forbidden"}}
    assert result["shouted"] == "hey" and result["shoutedToSelf"] is None
    assert result["roomsAfterLeave"] == [welcome["sid"]]
    assert result["afterLeave"] is None  # alice left the room: bob's shout no longer reaches her
    assert result["tools"] == {"greeting": "tools for alice",
                               "boom": {"error": "KeyError", "event": "boom", "namespace": "/tools"}}
    assert result["closedRoom"] is None  # close_room emptied the room
    assert result["byeReason"] == "io server disconnect"


def test_siothread_client_with_the_flask_session_cookie(server_url):
    cookie = _cookie(server_url, "carol")
    client = siothread.Client(reconnection=False)
    welcomed = []
    client.on("welcome", welcomed.append)
    client.on("question", lambda text: f"carol says {text}")
    try:
        client.connect(server_url, headers={"Cookie": cookie}, auth={"room": "r1"}, transports=["websocket"],
                       wait_timeout=5)
        assert client.call("ask", timeout=5) == "carol says what?"
        assert client.call("bin", {"b": b"\x00\x01"}, timeout=5) == {"b": b"\x00\x01"}
        client.emit("ask later")
        deadline = time.monotonic() + 5
        while not answers and time.monotonic() < deadline:
            time.sleep(0.02)
        assert answers == [(client.get_sid(), "carol", "carol says later?")]
        assert welcomed and welcomed[0]["user"] == "carol"
    finally:
        client.disconnect()
