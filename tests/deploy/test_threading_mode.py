"""Threading mode on OS threads: what it promises beyond the example patterns."""
import threading

import pytest

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
