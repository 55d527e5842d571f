"""Threading mode on OS threads: what it promises beyond the example patterns."""
import threading
import time

import pytest
import requests

import siothread as socketio

from deployments import deploy_many


@pytest.mark.parametrize("server", ["werkzeug", "gunicorn-gthread", "waitress"])
def test_a_blocking_handler_does_not_stop_other_clients(deploy, server):
    d = deploy_many([(server, {"DEPLOY_TICK": "0.5"})])[0]
    assert d.mode == "threading"
    order = []
    unblocked = threading.Event()
    a = socketio.Client(reconnection=False)
    a.on("unblocked", lambda: (order.append("a unblocked"), unblocked.set()))
    b = socketio.Client(reconnection=False)
    a.connect(d.url)
    b.connect(d.url)
    try:
        a.emit("block", 3)  # the handler sleeps 3 s in its thread (time.sleep, no monkey-patching)
        for _ in range(3):
            got = threading.Event()
            b.on("pong_from_server", got.set)
            b.emit("ping_from_client")
            assert got.wait(5)
        order.append("b served")
        assert unblocked.wait(10)
        assert order == ["b served", "a unblocked"]
    finally:
        a.disconnect()
        b.disconnect()


def _mode(d):
    return requests.get(d.url + "/mode", timeout=5).json()


@pytest.mark.parametrize("server, mode, by", [
    ("siothread", "gevent", "siothread's gevent server"),
    ("werkzeug", "threading", "the first handle_request() call"),
    ("waitress", "threading", "the first handle_request() call"),
])
def test_the_same_unpatched_app_resolves_async_mode_none_by_the_server_that_calls_it(deploy, server, mode, by):
    d = deploy(server)
    client = socketio.Client(reconnection=False)
    client.connect(d.url)
    try:
        got = threading.Event()
        client.on("pong_from_server", got.set)
        client.emit("ping_from_client")
        assert got.wait(5)
    finally:
        client.disconnect()
    assert _mode(d) == {"async_mode": mode, "pid": _mode(d)["pid"], "resolved": mode, "resolved_by": by}


def test_flask_siothread_run_without_patching_serves_on_gevent(deploy):
    d = deploy("flask-siothread-run")
    assert _mode(d)["resolved"] == "gevent" and _mode(d)["resolved_by"] == "socketio.run()"
    client = socketio.Client(reconnection=False)
    echoed = threading.Event()
    client.on("echoed", lambda data: echoed.set())
    client.connect(d.url)  # default transports: polling, then the upgrade
    try:
        assert client.call("echo", {"n": 1}, timeout=5) == {"n": 1}
        assert echoed.wait(5)
        deadline = time.monotonic() + 5
        while client.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.transport() == "websocket"
        assert client.call("echo", "after the upgrade", timeout=5) == "after the upgrade"
    finally:
        client.disconnect()
    assert _mode(d)["async_mode"] == "gevent"
