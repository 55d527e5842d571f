"""The dispatch fast paths send what the general paths send.

With no middleware, hooks, observers, outgoing hooks or recovery, an event of a
static namespace calls its handler directly, ``emit(..., to=sid)`` encodes
inline and acks are encoded without building a ``Packet``. Anything registered
later (even while a socket is connected) turns the general path back on, and
every serializer sees the same packets.
"""
import json

import gevent
import pytest

from siothread.protocol.socketio import PacketType as T


def connected(sio, namespace="/", serializer="default"):
    peer = sio.eio.open(serializer=serializer)
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def register(sio, namespace="/"):
    @sio.on("echo", namespace=namespace)
    def echo(sid, *args):
        sio.emit("echo", args, to=sid, namespace=namespace)

    @sio.on("one", namespace=namespace)
    def one(sid, value):
        sio.emit("one", value, to=sid, namespace=namespace)
        sio.emit("none", to=sid, namespace=namespace)
        sio.emit("list", [value, value], to=sid, namespace=namespace)

    @sio.on("ack", namespace=namespace)
    def ack(sid, *args):
        return args

    @sio.on("single", namespace=namespace)
    def single(sid, value):
        return value

    @sio.on("nothing", namespace=namespace)
    def nothing(sid):
        return None


SCRIPT = [
    ("echo", ("text", 1, 2.5, None, True, {"k": [1, "é"]}), None),
    ("echo", (), None),
    ("echo", (b"\x00\x01", {"nested": b"bin"}), None),
    ("one", ("value",), None),
    ("one", (b"bytes",), None),
    ("ack", ("a", {"b": 1}), 1),
    ("ack", (b"\xff",), 2),
    ("single", ("s",), 3),
    ("single", ([1, 2],), 4),
    ("nothing", (), 5),
    ("echo", ("\u2028 line separator",), 6),
]


def record_engine_calls(sio):
    """How each message reaches the engine: send(text) or send_prepared(prepared, compress, volatile)."""
    calls = []
    send, send_prepared = sio.eio.send, sio.eio.send_prepared

    def recording_send(sid, data):
        calls.append(("send", data))
        return send(sid, data)

    def recording_send_prepared(sid, prepared, *, volatile=False):
        calls.append(("send_prepared", prepared.messages, prepared.compress, volatile))
        return send_prepared(sid, prepared, volatile=volatile)

    sio.eio.send = recording_send
    sio.eio.send_prepared = recording_send_prepared
    return calls


def run_script(sio, namespace="/", serializer="default"):
    peer, _ = connected(sio, namespace, serializer)
    calls = record_engine_calls(sio)
    start = len(peer.raw)
    for event, args, ack_id in SCRIPT:
        peer.emit(event, *args, namespace=namespace, id=ack_id)
    peer.wait_for(lambda: len(peer.find(T.ACK)) == 6)
    peer.wait_for(lambda: len(peer.find(T.EVENT, event="list")) == 2)
    gevent.sleep(0.01)
    return peer.raw[start:], calls


@pytest.mark.parametrize("namespace", ["/", "/chat"])
@pytest.mark.parametrize("serializer", ["default", "msgpack"])
def test_fast_and_general_paths_send_the_same_messages(make_server, namespace, serializer):
    plain = make_server(serializer=serializer)
    register(plain, namespace)
    hooked = make_server(serializer=serializer)
    register(hooked, namespace)
    seen = []
    hooked.after_event(lambda info, error: seen.append(info.event))
    hooked.on_outgoing(lambda sid, ns, event, args: seen.append(("out", event)))
    hooked.use_event(lambda sid, event, args: None)
    assert run_script(plain, namespace, serializer) == run_script(hooked, namespace, serializer)
    assert "echo" in seen and ("out", "echo") in seen


def test_custom_json_module_encodes_events_and_acks(make_server):
    class Loud:
        @staticmethod
        def dumps(obj):
            return json.dumps(obj, separators=(",", ":")).replace('"echo"', '"echo" ')

        loads = staticmethod(json.loads)

    sio = make_server(json=Loud)
    register(sio)
    peer, _ = connected(sio)
    peer.emit("echo", 1)
    peer.emit("ack", 2, id=9)
    peer.wait_packet(T.ACK)
    peer.wait_packet(T.EVENT, event="echo")
    assert '2["echo" ,1]' in peer.raw and "39[2]" in peer.raw


def test_handlers_middleware_and_hooks_added_while_connected_are_used(sio):
    sio.on("ev", lambda sid, x: ["first", x])
    peer, sid = connected(sio)
    peer.emit("ev", 1, id=1)
    assert peer.wait_packet(T.ACK).data == [["first", 1]]
    sio.on("ev", lambda sid, x: ["second", x])  # replaced on the connected socket's route
    peer.emit("ev", 2, id=2)
    assert peer.wait_packet(T.ACK, count=2).data == [["second", 2]]
    sio.use_event(lambda sid, event, args: [a * 10 for a in args])
    peer.emit("ev", 3, id=3)
    assert peer.wait_packet(T.ACK, count=3).data == [["second", 30]]
    sio.around(lambda call, info: ["wrapped", call()])
    peer.emit("ev", 4, id=4)
    assert peer.wait_packet(T.ACK, count=4).data == [["wrapped", ["second", 40]]]


def test_emit_to_a_leaving_socket_sends_and_encodes_nothing(sio):
    errors = []

    @sio.on("disconnect")
    def gone(sid, reason):
        try:
            sio.emit("late", object(), to=sid)  # not JSON: never encoded for a socket that left
            sio.emit("late", "x", to=sid)
        except Exception as exc:  # pragma: no cover - the failure this test is for
            errors.append(exc)

    peer, sid = connected(sio)
    peer.leave()
    peer.wait_for(lambda: sid not in sio._sockets)
    assert errors == [] and peer.find(T.EVENT, event="late") == []


def test_unserializable_emit_to_a_connected_socket_raises_as_before(sio):
    peer, sid = connected(sio)
    with pytest.raises(TypeError):
        sio.emit("bad", object(), to=sid)
    with pytest.raises(ValueError):
        sio.emit("bad", float("nan"), to=sid)
    sio.emit("good", 1, to=sid)
    assert peer.wait_packet(T.EVENT, event="good").data == ["good", 1]


def test_events_and_control_items_keep_their_order(sio):
    order = []
    sio.on("connect", lambda sid, environ: order.append("connect"))
    sio.on("ev", lambda sid, n: order.append(n))
    sio.on("disconnect", lambda sid, reason: order.append("disconnect"))
    peer, _ = connected(sio)
    for n in range(5):
        peer.emit("ev", n)
    peer.leave()
    peer.wait_for(lambda: order[-1:] == ["disconnect"])
    assert order == ["connect", 0, 1, 2, 3, 4, "disconnect"]
