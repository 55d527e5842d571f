"""flask_siothread's ``message_queue``: Flask apps on one Redis share rooms and broadcasts,
and ``SocketIO(message_queue=...)`` without an app is a write-only emitter.

Two Flask apps (two ``SocketIO`` servers, each with its own ``RedisManager`` node)
run on siothread's server in this process against the session's redis-server;
siothread clients connect to each.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, List, Tuple

import flask
import pytest

import siothread
from flask_siothread import SocketIO, emit, join_room


def make_app(url: str) -> Tuple[flask.Flask, SocketIO]:
    app = flask.Flask(__name__)
    socketio = SocketIO(app, message_queue=url)

    @socketio.on("join")
    def on_join(room: str) -> str:
        join_room(room)
        return "joined"

    @socketio.on("say")
    def on_say(room: str, text: str) -> None:
        emit("said", text, to=room)

    return app, socketio


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


class Node:
    def __init__(self, url: str) -> None:
        self.app, self.socketio = make_app(url)
        self.wsgi = siothread.make_server(self.app, "127.0.0.1", 0)
        self.wsgi.start()
        self.url = f"http://127.0.0.1:{self.wsgi.server_port}"

    def client(self) -> Tuple[siothread.Client, List[Tuple[str, Any]]]:
        got: List[Tuple[str, Any]] = []
        lock = threading.Lock()
        client = siothread.Client(reconnection=False)

        @client.on("*")
        def anything(event: str, *args: Any) -> None:
            with lock:
                got.append((event, args[0] if args else None))

        client.connect(self.url, transports=["websocket"])
        return client, got

    def close(self) -> None:
        self.socketio.server.shutdown(timeout=2)
        self.wsgi.stop(timeout=2)


@pytest.fixture
def two_nodes(redis_server: Any) -> Iterator[Tuple[Node, Node]]:
    a, b = Node(redis_server.url), Node(redis_server.url)
    yield a, b
    a.close()
    b.close()


def test_flask_apps_on_one_message_queue_share_rooms_and_emits(two_nodes: Tuple[Node, Node]) -> None:
    a, b = two_nodes
    wait_until(lambda: a.socketio.server.manager.server_count() == 2)
    alice, alice_got = a.client()
    bob, bob_got = b.client()
    try:
        assert alice.call("join", "lobby", timeout=5) == "joined"
        assert bob.call("join", "lobby", timeout=5) == "joined"
        alice.emit("say", ("lobby", "hello from A"))
        wait_until(lambda: ("said", "hello from A") in bob_got)
        wait_until(lambda: ("said", "hello from A") in alice_got)
        # an emit from outside any handler (a view, a task) crosses too
        b.socketio.emit("news", {"n": 1}, to="lobby")
        wait_until(lambda: ("news", {"n": 1}) in alice_got)
    finally:
        alice.disconnect()
        bob.disconnect()


def test_socketio_without_an_app_is_a_write_only_emitter(two_nodes: Tuple[Node, Node], redis_server: Any) -> None:
    a, b = two_nodes
    alice, alice_got = a.client()
    bob, bob_got = b.client()
    emitter = SocketIO(message_queue=redis_server.url)
    try:
        assert bob.call("join", "desk", timeout=5) == "joined"
        # what a Celery task or a cron script does
        emitter.emit("broadcast", "to everyone")
        emitter.emit("note", "desk only", to="desk")
        wait_until(lambda: ("broadcast", "to everyone") in alice_got and ("broadcast", "to everyone") in bob_got)
        wait_until(lambda: ("note", "desk only") in bob_got)
        time.sleep(0.2)
        assert ("note", "desk only") not in alice_got
    finally:
        emitter.server.shutdown(timeout=2)
        alice.disconnect()
        bob.disconnect()
