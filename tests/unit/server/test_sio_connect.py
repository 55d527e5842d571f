"""Connecting to namespaces: handlers, refusal, order, dynamic/catch-all namespaces, limits, timeouts."""
import re

import gevent

from siothread.errors import ConnectionRefusedError
from siothread.protocol.socketio import PacketType as T


def test_connect_main_namespace_acks_with_sid_and_calls_handler(sio):
    seen = []

    @sio.on("connect")
    def connect(sid, environ):
        seen.append((sid, environ["REMOTE_ADDR"]))

    peer = sio.eio.open()
    peer.connect()
    sid = peer.connected_sid()
    assert seen == [(sid, "127.0.0.1")]
    assert peer.packets[0].data == {"sid": sid}
    assert sid != peer.sid  # the Socket.IO sid is not the Engine.IO sid


def test_connect_handler_with_auth_argument_receives_auth(sio):
    seen = []
    sio.on("connect", lambda sid, environ, auth: seen.append(auth))
    peer = sio.eio.open()
    peer.connect(auth={"token": "123"})
    peer.connected_sid()
    assert seen == [{"token": "123"}]


def test_missing_auth_is_an_empty_dict(sio):
    seen = []
    sio.on("connect", lambda sid, environ, auth: seen.append(auth))
    peer = sio.eio.open()
    peer.send_raw("0")
    peer.connected_sid()
    assert seen == [{}]


def test_auth_that_is_not_an_object_closes_the_connection(sio):
    peer = sio.eio.open()
    peer.send_raw('0"abc"')
    assert peer.closed and peer.close_reason == "parse error"


def test_oversized_auth_is_refused_and_session_kept(make_server):
    sio = make_server(max_auth_size=64)
    peer = sio.eio.open()
    peer.connect(auth={"blob": "x" * 100})
    err = peer.wait_packet(T.CONNECT_ERROR)
    assert err.data == {"message": "Auth payload too large"}
    assert not peer.closed


def test_refusal_by_returning_false(sio):
    sio.on("connect", lambda sid, environ: False)
    peer = sio.eio.open()
    peer.connect()
    err = peer.wait_packet(T.CONNECT_ERROR)
    assert err.data == {"message": "Connection rejected by server"}
    assert not peer.closed
    assert sio._sockets == {}


def test_refusal_with_message_and_data(sio):
    def connect(sid, environ, auth):
        raise ConnectionRefusedError("not allowed", {"retry": False})

    sio.on("connect", connect)
    disconnected = []
    sio.on("disconnect", lambda sid: disconnected.append(sid))
    peer = sio.eio.open()
    peer.connect()
    err = peer.wait_packet(T.CONNECT_ERROR)
    assert err.data == {"message": "not allowed", "data": {"retry": False}}
    assert disconnected == []  # a refused socket never "disconnects"
    assert sio.manager.get_namespaces() == []


def test_connect_ack_reaches_client_before_emits_made_in_connect_handler(sio):
    @sio.on("connect")
    def connect(sid, environ):
        sio.emit("welcome", "hi", to=sid)
        sio.enter_room(sid, "lobby")
        sio.emit("lobby", 1, to="lobby")
        sio.emit("everyone", 2)
        gevent.sleep(0.01)

    peer = sio.eio.open()
    peer.connect()
    peer.wait_packet(T.EVENT, event="everyone")
    kinds = [(p.type, p.data[0] if p.type == T.EVENT else None) for p in peer.packets]
    assert kinds == [(T.CONNECT, None), (T.EVENT, "welcome"), (T.EVENT, "lobby"), (T.EVENT, "everyone")]


def test_always_connect_acks_first_and_refusal_becomes_disconnect(make_server):
    sio = make_server(always_connect=True)
    sio.on("connect", lambda sid, environ: False)
    peer = sio.eio.open()
    peer.connect()
    peer.wait_packet(T.DISCONNECT)
    assert [p.type for p in peer.packets] == [T.CONNECT, T.DISCONNECT]


def test_unknown_namespace_is_refused_and_engine_session_kept(sio):
    peer = sio.eio.open()
    peer.send_raw("0/random")
    err = peer.wait_packet(T.CONNECT_ERROR, "/random")
    assert peer.raw[-1] == '4/random,{"message":"Invalid namespace"}'
    assert err.namespace == "/random"
    assert not peer.closed
    peer.connect("/")
    peer.connected_sid("/")


def test_namespaces_option_list_and_star(make_server):
    sio = make_server(namespaces=["/extra"])
    peer = sio.eio.open()
    peer.connect("/extra")
    peer.connected_sid("/extra")
    peer.connect("/other")
    peer.wait_packet(T.CONNECT_ERROR, "/other")

    any_ns = make_server(namespaces="*")
    peer2 = any_ns.eio.open()
    peer2.connect("/whatever")
    peer2.connected_sid("/whatever")


def test_several_namespaces_multiplexed_on_one_connection(sio):
    sio.on("ping", lambda sid: ("pong", "/"))
    sio.on("ping", lambda sid: ("pong", "/chat"), namespace="/chat")
    peer = sio.eio.open()
    peer.connect("/")
    peer.connect("/chat")
    a, b = peer.connected_sid("/"), peer.connected_sid("/chat")
    assert a != b
    peer.emit("ping", namespace="/chat", id=1)
    peer.emit("ping", namespace="/", id=2)
    acks = peer.wait_for(lambda: len(peer.find(T.ACK)) == 2 and peer.find(T.ACK))
    assert {(p.namespace, p.id, tuple(p.data)) for p in acks} == {
        ("/chat", 1, ("pong", "/chat")), ("/", 2, ("pong", "/"))}


def test_dynamic_namespace_regex_handlers_receive_namespace_first(sio):
    seen = []
    pattern = re.compile(r"^/room-\d+$")
    sio.on("connect", lambda ns, sid, environ: seen.append(("connect", ns)), namespace=pattern)
    sio.on("hello", lambda ns, sid, x: (ns, x), namespace=pattern)
    sio.on("disconnect", lambda ns, sid, reason: seen.append(("disconnect", ns, reason)), namespace=pattern)
    peer = sio.eio.open()
    peer.connect("/room-42")
    peer.connected_sid("/room-42")
    peer.emit("hello", 7, namespace="/room-42", id=3)
    ack = peer.wait_packet(T.ACK, "/room-42")
    assert ack.data == ["/room-42", 7]
    peer.connect("/room-x")
    peer.wait_packet(T.CONNECT_ERROR, "/room-x")
    peer.leave("/room-42")
    gevent.sleep(0.05)
    assert seen == [("connect", "/room-42"), ("disconnect", "/room-42", sio.reason.CLIENT_DISCONNECT)]
    # an emptied child namespace leaves nothing behind in the adapter
    assert "/room-42" not in sio.manager.get_namespaces()


def test_dynamic_namespace_callable_sees_name_and_auth(sio):
    def allowed(name, auth):
        return name.startswith("/t-") and auth.get("ok") is True

    sio.on("connect", lambda ns, sid, environ: None, namespace=allowed)
    peer = sio.eio.open()
    peer.connect("/t-1", {"ok": True})
    peer.connected_sid("/t-1")
    peer.connect("/t-2", {"ok": False})
    peer.wait_packet(T.CONNECT_ERROR, "/t-2")


def test_catch_all_namespace(sio):
    sio.on("echo", lambda ns, sid, x: [ns, x], namespace="*")
    peer = sio.eio.open()
    peer.connect("/anything")
    peer.connected_sid("/anything")
    peer.emit("echo", 1, namespace="/anything", id=9)
    assert peer.wait_packet(T.ACK, "/anything").data == [["/anything", 1]]


def test_connect_middleware_chain_refuses_and_can_use_session(sio):
    calls = []

    @sio.use
    def first(sid, environ, auth):
        calls.append("first")
        sio.save_session(sid, {"user": auth.get("user")})

    @sio.use(namespace="/private")
    def second(sid, environ, auth):
        calls.append("second")
        if auth.get("user") != "ann":
            raise ConnectionRefusedError("who are you?")

    sio.on("whoami", lambda sid: sio.get_session(sid)["user"], namespace="/private")
    peer = sio.eio.open()
    peer.connect("/private", {"user": "bob"})
    assert peer.wait_packet(T.CONNECT_ERROR, "/private").data == {"message": "who are you?"}
    peer.connect("/private", {"user": "ann"})
    peer.connected_sid("/private")
    peer.emit("whoami", namespace="/private", id=1)
    assert peer.wait_packet(T.ACK, "/private").data == ["ann"]
    assert calls == ["first", "second", "first", "second"]
    peer.connect("/")  # the namespace-specific middleware does not run for "/"
    peer.connected_sid("/")
    assert calls[-1] == "first"


def test_middleware_returning_false_refuses(sio):
    sio.use(lambda sid, environ, auth: False)
    peer = sio.eio.open()
    peer.connect()
    assert peer.wait_packet(T.CONNECT_ERROR).data == {"message": "Connection rejected by server"}


def test_too_many_namespaces_closes_the_connection(make_server):
    sio = make_server(namespaces="*", max_namespaces=3)
    peer = sio.eio.open()
    for i in range(3):
        peer.connect(f"/n{i}")
        peer.connected_sid(f"/n{i}")
    peer.leave("/n0")
    peer.connect("/n0")  # already counted: allowed again
    peer.connected_sid("/n0")
    peer.connect("/n3")
    assert peer.closed and peer.close_reason == "parse error"


def test_connect_timeout_closes_idle_engine_session(make_server):
    sio = make_server(connect_timeout=0.15)
    peer = sio.eio.open()
    peer.wait_for(lambda: peer.closed, timeout=2)
    assert peer.close_reason == "server disconnect"


def test_connect_timeout_rearmed_when_last_namespace_left(make_server):
    sio = make_server(connect_timeout=0.15)
    peer = sio.eio.open()
    peer.connect()
    peer.connected_sid()
    gevent.sleep(0.3)
    assert not peer.closed
    peer.leave()
    peer.wait_for(lambda: peer.closed, timeout=2)


def test_duplicate_connect_is_ignored(sio):
    peer = sio.eio.open()
    peer.connect()
    sid = peer.connected_sid()
    peer.connect()
    gevent.sleep(0.05)
    assert len(peer.find(T.CONNECT)) == 1
    assert list(sio._sockets) == [sid]


def test_client_leaving_during_connect_handler_pairs_connect_with_disconnect(sio):
    release = gevent.event.Event()
    events = []

    @sio.on("connect")
    def connect(sid, environ):
        events.append("connect")
        release.wait(2)

    sio.on("disconnect", lambda sid, reason: events.append(("disconnect", reason)))
    peer = sio.eio.open()
    peer.connect()
    gevent.sleep(0.02)
    peer.close()
    release.set()
    gevent.sleep(0.05)
    assert events == ["connect", ("disconnect", sio.reason.TRANSPORT_CLOSE)]
    assert sio._sockets == {}


def test_new_namespace_connections_refused_while_shutting_down(sio):
    peer = sio.eio.open()
    sio._closing = True
    peer.connect()
    assert peer.wait_packet(T.CONNECT_ERROR).data == {"message": "server shutting down"}
    sio._closing = False
