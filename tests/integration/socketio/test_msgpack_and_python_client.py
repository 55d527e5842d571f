"""serializer='msgpack' with socket.io-msgpack-parser, and python-socketio's client as a second peer."""
import threading

import gevent
import pytest
import socketio

from siothread.errors import DisconnectedError
from sio_helpers import js_bytes, run_node


@pytest.mark.node
def test_msgpack_serializer_with_the_npm_msgpack_parser(sio_app):
    app = sio_app(serializer="msgpack")
    r = run_node(app.url, "multiplex", transports=["websocket"], parser="msgpack")
    assert r["sameEngine"] and r["order"] == ["connect", "welcome"]
    assert r["echoed"] == [1, "two", {"three": [True]}]
    assert r["binary"] == [js_bytes(b"\x01\x02\x03"), {"nested": [js_bytes(b"\x04\x05")]}]
    assert r["noAck"] == "operation has timed out"
    r2 = run_node(app.url, "server_acks", transports=["polling"], parser="msgpack")
    assert r2 == {"answer": [42, "twice"], "timeoutReport": "TimeoutError"}


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_python_socketio_client_as_a_peer(sio_app, transports):
    app = sio_app()
    client = socketio.Client(reconnection=False)
    got = {}
    welcome = threading.Event()

    @client.on("welcome")
    def on_welcome(data):
        got["welcome"] = data
        welcome.set()

    client.on("question", lambda x: x + 1)
    client.connect(app.url, auth={"token": "py"}, transports=transports, namespaces=["/", "/chat"])
    try:
        assert welcome.wait(3) and got["welcome"]["auth"] == {"token": "py"}
        assert client.call("echo", (1, b"\x00\xff", {"k": [b"v"]}), timeout=3) == (1, b"\x00\xff", {"k": [b"v"]})
        assert client.call("echo", "chat", namespace="/chat", timeout=3) == "chat"
        assert client.call("ask-me", 41, timeout=3) == 42
        sid = client.get_sid("/")
        sio = app.sio
        assert sio.rooms(sid) == [sid]
        box = []
        sio.emit("question", 1, to=sid, callback=lambda *a: box.append(a))
        gevent.sleep(0.3)
        assert box == [(2,)]
    finally:
        client.disconnect()
    gevent.sleep(0.2)
    # python-socketio queues its DISCONNECT packets and aborts the transport
    # right away, so either may reach the server first; each socket leaves once.
    reasons = app.sio.reason
    assert sorted(ns for ns, _, _ in app.disconnects) == ["/", "/chat"]
    assert {why for _, _, why in app.disconnects} <= {reasons.CLIENT_DISCONNECT, reasons.TRANSPORT_CLOSE}


def test_python_socketio_client_sees_server_disconnect(sio_app):
    # short pings: python-engineio's writer thread lingers for one ping period after a close
    app = sio_app(ping_interval=0.3, ping_timeout=0.3)
    client = socketio.Client(reconnection=False)
    gone = threading.Event()
    client.on("disconnect", lambda *reason: gone.set())
    client.connect(app.url, transports=["websocket"])
    sid = client.get_sid("/")
    app.sio.disconnect(sid)
    assert gone.wait(3)
    with pytest.raises(DisconnectedError):
        app.sio.call("anything", to=sid, timeout=1)
    client.disconnect()
    client.wait()  # until python-engineio's threads are gone
