"""flask_siothread through ``socketio.test_client``: registration, context, helpers, errors.

Modelled on Flask-SocketIO's own test suite (``test_socketio.py``): the same app
shapes and the same expectations, with the import changed. Where siothread
differs on purpose, the test says so and ``docs/flask.md`` says why.
"""
from __future__ import annotations

import json
import threading

import pytest
from flask import Flask, current_app, g, request

import siothread
from flask_siothread import (ConnectionRefusedError, Namespace, SocketIO, close_room, disconnect, emit,
                             join_room, leave_room, rooms, send)

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret"
socketio = SocketIO(app)
seen: dict = {}


@socketio.on("connect")
def on_connect(auth):
    if auth != {"foo": "bar"}:
        return False
    if request.args.get("fail"):
        raise ConnectionRefusedError("failed!", {"why": "asked to"})
    send("connected")
    send(json.dumps({k: v for k, v in request.args.items() if k not in ("EIO", "transport")}))
    emit("dummy", to="nobody")


@socketio.on("disconnect")
def on_disconnect(reason):
    seen["disconnected"] = ("/", reason)


@socketio.event(namespace="/test")
def connect():
    send("connected-test")
    send(request.headers.get("X-Custom", ""))


@socketio.on("disconnect", namespace="/test")
def on_disconnect_test():
    seen["disconnected"] = ("/test", None)


@socketio.event
def message(message):
    send(message)
    if message != "test noackargs":
        return message


@socketio.on("json")
def on_json(data):
    send(data, json=True, broadcast=True)
    return data


@socketio.on("my custom event")
def on_custom_event(data):
    emit("my custom response", data)
    return data


@socketio.on("other custom event")
@socketio.on("and another custom event")
def get_request_event(data):
    seen["event"] = request.event
    seen["namespace"] = request.namespace
    seen["sid"] = request.sid
    emit("my custom response", data)


def get_request_event2(data):
    seen["event"] = request.event
    emit("my custom response", data)


socketio.on_event("yet another custom event", get_request_event2)


@socketio.on("*")
def catch_all(event, data):
    seen["catch_all_event"] = request.event
    emit("my custom response", (event, data))


@socketio.on("wildcard", namespace="*")
def wildcard(data):
    emit("my custom response", (request.namespace, data))


@socketio.on("broadcast")
def on_broadcast(data):
    emit("my custom response", data, broadcast=True)


@socketio.on("broadcast others")
def on_broadcast_others(data):
    emit("my custom response", data, broadcast=True, include_self=False)


@socketio.on("join room")
def on_join_room(data):
    join_room(data["room"])
    return rooms()


@socketio.on("leave room")
def on_leave_room(data):
    leave_room(data["room"])
    return rooms()


@socketio.on("room event")
def on_room_event(data):
    room = data.pop("room")
    emit("room response", data, room=room)


@socketio.on("close room")
def on_close_room(data):
    close_room(data["room"])


@socketio.on("kick me")
def on_kick_me():
    disconnect()


@socketio.on("context")
def on_context():
    assert current_app._get_current_object() is app
    first = "mark" not in g
    g.mark = True
    return {"fresh_g": first, "path": request.path, "remote_addr": request.remote_addr,
            "cookie": request.cookies.get("c"), "header": request.headers.get("X-Custom")}


@socketio.on("error testing")
def raise_error(data):
    raise AssertionError("boom")


@socketio.on("error testing", namespace="/test")
def raise_error_namespace(data):
    raise AssertionError("boom")


@socketio.on("error testing", namespace="/unused")
def raise_error_default(data):
    raise AssertionError("boom")


@socketio.on("unhandled error")
def raise_value_error():
    raise ValueError("not for the error handler")


@socketio.on_error()
def error_handler(exc):
    if not isinstance(exc, AssertionError):
        raise exc
    seen["error"] = ("/", request.event["message"])
    return "error"


@socketio.on_error("/test")
def error_handler_namespace(exc):
    seen["error"] = ("/test", str(exc))
    return "error/test"


@socketio.on_error_default
def error_handler_default(exc):
    seen["error"] = ("default", str(exc))
    return "error/default"


class MyNamespace(Namespace):
    def on_connect(self):
        send("connected-ns")

    def on_disconnect(self, reason):
        seen["disconnected"] = ("/ns", reason)

    def on_message(self, message):
        send(message)
        return message

    def on_exit(self, data):
        disconnect()

    def on_my_custom_event(self, data):
        self.emit("my custom response", data, room=request.sid)
        return data


socketio.on_namespace(MyNamespace("/ns"))


class Counting(Namespace):
    """Overrides trigger_event: the hook around every event, known or not."""

    def trigger_event(self, event, sid, *args):
        seen.setdefault("triggered", []).append(event)
        return super().trigger_event(event, sid, *args)

    def on_known(self, data):
        return data * 2


socketio.on_namespace(Counting("/counting"))


@app.route("/emit-from-view")
def emit_from_view():
    socketio.emit("from view", {"room": request.args["room"]}, to=request.args["room"])
    return ""


AUTH = {"foo": "bar"}


def test_connect_and_disconnect_with_reason(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client2 = make_client(socketio, app, auth=AUTH)
    assert client.is_connected() and client2.is_connected()
    assert client.eio_sid != client2.eio_sid
    received = client.get_received()
    assert [r["args"] for r in received] == ["connected", "{}"]
    client.disconnect()
    assert not client.is_connected()
    assert seen["disconnected"] == ("/", "client namespace disconnect")
    assert client2.is_connected()


def test_query_string_and_headers_reach_request(make_client):
    client = make_client(socketio, app, auth=AUTH, query_string="?foo=bar")
    assert [r["args"] for r in client.get_received()][1] == '{"foo": "bar"}'
    client2 = make_client(socketio, app, namespace="/test", headers={"X-Custom": "Value"})
    assert [r["args"] for r in client2.get_received("/test")] == ["connected-test", "Value"]


def test_connect_refused_by_false_and_by_exception_with_data(make_client):
    client = make_client(socketio, app, auth={"wrong": True})
    assert not client.is_connected()
    assert client.get_connect_error() == {"message": "Connection rejected by server"}
    client = make_client(socketio, app, auth=AUTH, query_string="fail=1")
    assert not client.is_connected()
    assert client.get_connect_error() == {"message": "failed!", "data": {"why": "asked to"}}


def test_disconnect_handler_without_reason_argument(make_client):
    client = make_client(socketio, app, namespace="/test")
    client.disconnect("/test")
    assert seen["disconnected"] == ("/test", None)


def test_send_emit_json_and_binary_go_through_the_codec(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client.get_received()
    client.send("echo this")
    assert client.get_received() == [{"name": "message", "args": "echo this", "namespace": "/"}]
    client.emit("my custom event", {"a": b"\x01\x02\x03", "nested": [b"\xff"]})
    received = client.get_received()
    assert received[0]["name"] == "my custom response"
    assert received[0]["args"] == [{"a": b"\x01\x02\x03", "nested": [b"\xff"]}]
    ack = client.emit("my custom event", {"bin": b"\x00"}, callback=True)
    assert ack == {"bin": b"\x00"}


def test_acks_have_flask_socketios_shape(make_client):
    client = make_client(socketio, app, auth=AUTH)
    assert client.send("echo this", callback=True) == "echo this"
    assert client.send("test noackargs", callback=True) == []
    assert client.send({"a": "b"}, json=True, callback=True) == {"a": "b"}
    assert client.emit("my custom event", {"a": "b"}) is None


def test_catch_all_event_and_catch_all_namespace(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client.get_received()
    client.emit("random event", {"foo": "bar"})
    assert client.get_received()[0]["args"] == ["random event", {"foo": "bar"}]
    # the real event name, not '*' (a deliberate difference, docs/flask.md)
    assert seen["catch_all_event"] == {"message": "random event", "args": ({"foo": "bar"},)}
    client2 = make_client(socketio, app, namespace="/test")
    client2.get_received("/test")
    client2.emit("wildcard", {"a": "b"}, namespace="/test")
    assert client2.get_received("/test")[0]["args"] == ["/test", {"a": "b"}]


def test_request_event_namespace_and_sid(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client.emit("other custom event", "foo")
    assert seen["event"] == {"message": "other custom event", "args": ("foo",)}
    assert seen["namespace"] == "/" and seen["sid"] == client.get_sid()
    client.emit("and another custom event", "bar")
    assert seen["event"] == {"message": "and another custom event", "args": ("bar",)}
    client.emit("yet another custom event", "baz")
    assert seen["event"] == {"message": "yet another custom event", "args": ("baz",)}


def test_context_per_event_fresh_g_and_request_from_the_handshake(make_client):
    flask_client = app.test_client()
    flask_client.set_cookie("c", "cookie-value") if _set_cookie_new_style() else \
        flask_client.set_cookie("localhost", "c", "cookie-value")
    client = make_client(socketio, app, auth=AUTH, headers={"X-Custom": "h"}, flask_test_client=flask_client)
    first = client.emit("context", callback=True)
    second = client.emit("context", callback=True)
    assert first["fresh_g"] and second["fresh_g"]
    assert first["path"] == "/socket.io/"
    assert first["remote_addr"] == "127.0.0.1"
    assert first["cookie"] == "cookie-value" and first["header"] == "h"


def _set_cookie_new_style() -> bool:
    import inspect

    return "server_name" not in inspect.signature(app.test_client().set_cookie).parameters


def test_broadcast_include_self_and_namespaces(make_client):
    client1 = make_client(socketio, app, auth=AUTH)
    client2 = make_client(socketio, app, auth=AUTH)
    client3 = make_client(socketio, app, namespace="/test")
    for c in (client1, client2):
        c.get_received()
    client3.get_received("/test")
    client1.emit("broadcast", {"a": "b"})
    assert client2.get_received() == [{"name": "my custom response", "args": [{"a": "b"}], "namespace": "/"}]
    assert len(client1.get_received()) == 1
    assert client3.get_received("/test") == []
    client1.emit("broadcast others", {"c": "d"})
    assert client1.get_received() == []
    assert client2.get_received()[0]["args"] == [{"c": "d"}]
    client1.send({"j": 1}, json=True)
    assert client2.get_received() == [{"name": "json", "args": {"j": 1}, "namespace": "/"}]
    client1.get_received()
    socketio.emit("everyone but one", skip_sid=client2.get_sid())
    assert client1.get_received() == [{"name": "everyone but one", "args": [], "namespace": "/"}]
    assert client2.get_received() == []


def test_rooms_join_leave_close_and_emit_from_outside(make_client):
    client1 = make_client(socketio, app, auth=AUTH)
    client2 = make_client(socketio, app, auth=AUTH)
    client1.get_received()
    client2.get_received()
    assert set(client1.emit("join room", {"room": "one"}, callback=True)) == {client1.get_sid(), "one"}
    client2.emit("join room", {"room": "one"})
    client1.emit("room event", {"a": "b", "room": "one"})
    assert client1.get_received() == client2.get_received() == [
        {"name": "room response", "args": [{"a": "b"}], "namespace": "/"}]
    assert client1.emit("leave room", {"room": "one"}, callback=True) == [client1.get_sid()]
    client2.emit("room event", {"x": 1, "room": "one"})
    assert client1.get_received() == []
    assert len(client2.get_received()) == 1
    http = app.test_client()
    http.get("/emit-from-view?room=one")
    assert client2.get_received() == [{"name": "from view", "args": [{"room": "one"}], "namespace": "/"}]
    socketio.emit("outside", 1, 2, room="one")
    assert client2.get_received()[0]["args"] == [1, 2]
    client2.emit("close room", {"room": "one"})
    socketio.emit("outside", 3, room="one")
    assert client2.get_received() == []


def test_emit_from_background_task_and_thread(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client.get_received()
    sid = client.get_sid()
    task = socketio.start_background_task(socketio.emit, "from task", {"n": 1}, to=sid)
    task.join()
    thread = threading.Thread(target=socketio.send, args=("from thread",), kwargs={"to": sid})
    thread.start()
    thread.join()
    socketio.sleep(0)
    assert client.get_received() == [
        {"name": "from task", "args": [{"n": 1}], "namespace": "/"},
        {"name": "message", "args": "from thread", "namespace": "/"},
    ]


def test_server_disconnect_from_handler(make_client):
    client = make_client(socketio, app, auth=AUTH)
    client.emit("kick me")
    assert not client.is_connected()
    assert seen["disconnected"] == ("/", "server namespace disconnect")
    with pytest.raises(RuntimeError):
        client.emit("message", "x")


def test_error_handlers_per_namespace_default_and_unhandled(make_client, caplog):
    client = make_client(socketio, app, auth=AUTH)
    assert client.emit("error testing", "", callback=True) == "error"
    assert seen["error"] == ("/", "error testing")
    client2 = make_client(socketio, app, namespace="/test")
    assert client2.emit("error testing", "", namespace="/test", callback=True) == "error/test"
    client3 = make_client(socketio, app, namespace="/unused")
    assert client3.emit("error testing", "", namespace="/unused", callback=True) == "error/default"
    # the error handler re-raises: the server logs it, the connection stays
    client.emit("unhandled error")
    assert client.is_connected()
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_class_based_namespace(make_client):
    client = make_client(socketio, app, namespace="/ns")
    assert client.get_received("/ns")[0]["args"] == "connected-ns"
    assert client.send("hi", namespace="/ns", callback=True) == "hi"
    assert client.emit("my_custom_event", {"a": 1}, namespace="/ns", callback=True) == {"a": 1}
    assert [r["name"] for r in client.get_received("/ns")] == ["message", "my custom response"]
    client.emit("exit", {}, namespace="/ns")
    assert not client.is_connected("/ns")
    assert seen["disconnected"] == ("/ns", "server namespace disconnect")


def test_trigger_event_override_sees_every_event(make_client):
    seen["triggered"] = []
    client = make_client(socketio, app, namespace="/counting")
    assert client.emit("known", 21, namespace="/counting", callback=True) == 42
    client.emit("unknown", namespace="/counting")
    client.disconnect("/counting")
    assert seen["triggered"] == ["connect", "known", "unknown", "disconnect"]


def test_namespace_classes_reject_client_chosen_attribute_names(make_client):
    client = make_client(socketio, app, namespace="/ns")
    client.get_received("/ns")
    # "__init__" and "_set_socketio" are attributes, not on_ handlers: nothing runs (no ack, no reply)
    client.emit("__init__", namespace="/ns")
    client.emit("_set_socketio", namespace="/ns")
    assert client.get_received("/ns") == []
    assert client.send("still here", namespace="/ns", callback=True) == "still here"


def test_app_factory_init_app_and_extensions(make_client):
    late = SocketIO(allow_upgrades=False)

    @late.on("connect")
    def late_connect():
        send({"connected": "late"}, json=True)

    @late.on("whoami")
    def whoami():
        return current_app.name

    factory_app = Flask("factory")
    late.init_app(factory_app, ping_interval=7)
    assert factory_app.extensions["socketio"] is late
    assert late.server.eio.config.ping_interval == 7
    assert late.server.eio.config.allow_upgrades is False
    client = make_client(late, factory_app)
    assert client.get_received() == [{"name": "json", "args": {"connected": "late"}, "namespace": "/"}]
    assert client.emit("whoami", callback=True) == "factory"


def test_helpers_outside_a_handler_say_what_to_use():
    with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="socketio.emit"):
            emit("x", 1)
        with pytest.raises(RuntimeError, match="outside a Socket.IO handler"):
            join_room("r")
    with pytest.raises(RuntimeError, match="skip_sid"):
        socketio.emit("x", include_self=False)


def test_message_queue_without_redis_adapter_is_a_clear_error(monkeypatch):
    # an installation without the Redis adapter (whether or not this checkout has one)
    # (the lazy entry first: reading the attribute would import the adapter, which may
    # itself be what is missing, e.g. msgpack in the Flask 2.2 run)
    monkeypatch.delitem(siothread._LAZY, "RedisManager", raising=False)
    monkeypatch.delattr(siothread, "RedisManager", raising=False)
    with pytest.raises(RuntimeError, match=r"siothread\.RedisManager"):
        SocketIO(Flask("mq"), message_queue="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match=r"siothread\.RedisManager"):
        SocketIO(message_queue="redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="redis://"):
        SocketIO(Flask("mq2"), message_queue="amqp://guest@localhost//")
