"""Events: arguments, acks from return values, catch-all, reserved names, errors, ordering, hooks."""
import logging

import gevent
import pytest

from siothread.protocol.socketio import PacketType as T
from siothread.server import Namespace


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def test_multiple_arguments_and_return_value_as_ack(sio):
    sio.on("sum", lambda sid, a, b, c: a + b + c)
    sio.on("pair", lambda sid, x: (x, x * 2))
    sio.on("nothing", lambda sid: None)
    peer, _ = connected(sio)
    peer.emit("sum", 1, 2, 3, id=1)
    peer.emit("pair", 5, id=2)
    peer.emit("nothing", id=3)
    acks = peer.wait_for(lambda: len(peer.find(T.ACK)) == 3 and peer.find(T.ACK))
    assert [(p.id, p.data) for p in acks] == [(1, [6]), (2, [5, 10]), (3, [])]


def test_event_decorator_uses_function_name(sio):
    @sio.event
    def shout(sid, text):
        return text.upper()

    @sio.event(namespace="/x")
    def whisper(sid, text):
        return text.lower()

    peer, _ = connected(sio)
    peer.connect("/x")
    peer.connected_sid("/x")
    peer.emit("shout", "hi", id=1)
    peer.emit("whisper", "HI", namespace="/x", id=2)
    assert peer.wait_packet(T.ACK, "/").data == ["HI"]
    assert peer.wait_packet(T.ACK, "/x").data == ["hi"]


def test_catch_all_event_receives_event_name_first(sio):
    sio.on("known", lambda sid: "known")
    sio.on("*", lambda event, sid, *args: [event, list(args)])
    peer, _ = connected(sio)
    peer.emit("mystery", 1, {"a": 2}, id=1)
    peer.emit("known", id=2)
    acks = peer.wait_for(lambda: len(peer.find(T.ACK)) == 2 and peer.find(T.ACK))
    assert [p.data for p in acks] == [[["mystery", [1, {"a": 2}]]], ["known"]]


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "disconnecting", "newListener",
                                  "removeListener", "error"])
def test_reserved_event_from_client_closes_connection_and_never_reaches_handlers(sio, name):
    calls = []
    sio.on("connect", lambda sid, environ: calls.append("connect"))
    sio.on("disconnect", lambda sid, reason: calls.append(("disconnect", reason)))
    sio.on("*", lambda event, sid, *a: calls.append(("any", event)))
    peer, _ = connected(sio)
    peer.send_raw('2["%s",{"REMOTE_ADDR":"10.0.0.1"},"forged"]' % name)
    assert peer.closed and peer.close_reason == "parse error"
    gevent.sleep(0.05)
    assert calls == ["connect", ("disconnect", sio.reason.PARSE_ERROR)]


@pytest.mark.parametrize("raw", ['2{}', '2', '2[]', '2"abc"', '2[1]', '2abc["x"]', '9', '', '2["x"'])
def test_invalid_packets_close_the_connection(sio, raw):
    peer, _ = connected(sio)
    peer.send_raw(raw)
    assert peer.closed and peer.close_reason == "parse error"
    assert sio._sockets == {} or all(s.state >= 2 for s in sio._sockets.values())


def test_server_refuses_to_emit_reserved_names(sio):
    peer, sid = connected(sio)
    for name in ("connect", "disconnect", "connect_error", "error", "newListener"):
        with pytest.raises(ValueError):
            sio.emit(name, to=sid)
        with pytest.raises(ValueError):
            sio.to(sid).emit(name)
        with pytest.raises(ValueError):
            sio.call(name, to=sid, timeout=0.1)


def test_handler_exception_is_logged_with_sid_and_event_and_connection_continues(sio, caplog):
    def boom(sid):
        raise RuntimeError("kaboom")

    sio.on("boom", boom)
    sio.on("ok", lambda sid: "fine")
    peer, sid = connected(sio)
    with caplog.at_level(logging.ERROR, logger="siothread.server"):
        peer.emit("boom", id=1)
        peer.emit("ok", id=2)
        ack = peer.wait_packet(T.ACK)
    assert ack.id == 2 and ack.data == ["fine"]
    record = next(r for r in caplog.records if "boom" in r.getMessage())
    assert sid in record.getMessage() and record.exc_info[1].args == ("kaboom",)
    assert not peer.closed


def test_events_of_one_socket_run_in_order_while_a_handler_blocks(sio):
    order = []

    def slow(sid, i):
        gevent.sleep(0.02)
        order.append(i)

    sio.on("step", slow)
    peer, _ = connected(sio)
    for i in range(5):
        peer.emit("step", i)
    peer.wait_for(lambda: len(order) == 5)
    assert order == [0, 1, 2, 3, 4]


def test_other_sockets_are_not_blocked_by_a_slow_handler(sio):
    release = gevent.event.Event()
    sio.on("block", lambda sid: release.wait(2))
    sio.on("fast", lambda sid: "quick")
    a, _ = connected(sio)
    b, _ = connected(sio)
    a.emit("block")
    b.emit("fast", id=1)
    assert b.wait_packet(T.ACK, timeout=1).data == ["quick"]
    release.set()


def test_handler_blocked_in_call_gets_ack_read_by_the_reader(sio):
    def relay(sid, x):
        return sio.call("double", x, to=sid, timeout=2)

    sio.on("relay", relay)
    peer, _ = connected(sio)
    peer.emit("relay", 21, id=5)
    req = peer.wait_packet(T.EVENT, event="double")
    peer.ack(req.id, 42)
    assert peer.wait_packet(T.ACK).data == [42]


def test_async_handlers_false_runs_inline(make_server):
    sio = make_server(async_handlers=False)
    seen = []
    sio.on("x", lambda sid: seen.append(gevent.getcurrent()))
    peer, _ = connected(sio)
    peer.emit("x")
    assert seen == [gevent.getcurrent()]  # ran in the "reader" (the sending greenlet)


def test_events_for_a_namespace_not_joined_are_ignored(sio):
    calls = []
    sio.on("x", lambda sid: calls.append(sid), namespace="/other")
    peer, _ = connected(sio)
    peer.emit("x", namespace="/other")
    peer.ack(1, "x", namespace="/other")
    gevent.sleep(0.05)
    assert calls == [] and not peer.closed


def test_event_middleware_rewrites_and_rejects(sio):
    @sio.use_event
    def guard(sid, event, args):
        if event == "forbidden":
            return False
        if event == "shout":
            return [a.upper() for a in args]
        return None

    def broken(sid, event, args):
        if event == "explode":
            raise ValueError("no")

    sio.use_event(broken)
    calls = []
    sio.on("shout", lambda sid, *a: list(a))
    sio.on("forbidden", lambda sid: calls.append("forbidden"))
    sio.on("explode", lambda sid: calls.append("explode"))
    peer, _ = connected(sio)
    peer.emit("forbidden", id=1)
    peer.emit("explode", id=2)
    peer.emit("shout", "a", "b", id=3)
    ack = peer.wait_packet(T.ACK)
    assert ack.id == 3 and ack.data == [["A", "B"]]
    assert calls == []


def test_around_and_after_hooks_run_for_every_handler_errors_included(sio):
    log = []

    @sio.around
    def outer(call, info):
        log.append(("enter", info.event))
        try:
            return call()
        except LookupError:
            return "fallback"
        finally:
            log.append(("exit", info.event))

    @sio.after_event
    def teardown(info, error):
        log.append(("after", info.event, type(error).__name__ if error else None))

    def fails(sid):
        raise KeyError("x")

    sio.on("fails", fails)
    sio.on("works", lambda sid: "ok")
    sio.on("crash", lambda sid: 1 / 0)
    peer, _ = connected(sio)
    peer.emit("fails", id=1)
    peer.emit("crash", id=2)
    peer.emit("works", id=3)
    acks = peer.wait_for(lambda: len(peer.find(T.ACK)) == 2 and peer.find(T.ACK))
    assert [(p.id, p.data) for p in acks] == [(1, ["fallback"]), (3, ["ok"])]
    assert ("after", "fails", None) in log  # around turned the error into a result
    assert ("after", "crash", "ZeroDivisionError") in log
    assert ("after", "works", None) in log
    assert log.index(("enter", "crash")) < log.index(("exit", "crash")) < log.index(("after", "crash",
                                                                                     "ZeroDivisionError"))


def test_outgoing_hook_sees_every_emitted_event(sio):
    seen = []
    sio.on_outgoing(lambda sid, ns, event, args: seen.append((sid, event, list(args))))
    a, sid_a = connected(sio)
    b, sid_b = connected(sio)
    sio.emit("one", 1, to=sid_a)
    sio.emit("all", (1, 2))
    assert seen[0] == (sid_a, "one", [1])
    assert sorted(seen[1:]) == sorted([(sid_a, "all", [1, 2]), (sid_b, "all", [1, 2])])


class Chat(Namespace):
    def on_connect(self, sid, environ, auth):
        self.save_session(sid, {"name": auth.get("name")})

    def on_hello(self, sid, text):
        return f"{self.get_session(sid)['name']}: {text}"

    def on_disconnect(self, sid, reason):
        Chat.left.append(reason)

    not_a_handler = "data"
    left: list = []


def test_class_based_namespace_dispatches_through_a_dict(sio):
    ns = Chat("/chat")
    sio.register_namespace(ns)
    peer = sio.eio.open()
    peer.connect("/chat", {"name": "ann"})
    peer.connected_sid("/chat")
    peer.emit("hello", "hi", namespace="/chat", id=1)
    assert peer.wait_packet(T.ACK, "/chat").data == ["ann: hi"]
    # Only on_<event> methods present at registration are reachable; client text
    # never becomes an attribute lookup.
    ns.on_late = lambda sid: "late"
    for event in ("late", "_set_server", "__init__", "emit", "trigger_event", "not_a_handler"):
        peer.emit(event, namespace="/chat", id=7)
    gevent.sleep(0.05)
    assert len(peer.find(T.ACK)) == 1
    assert set(ns._handlers) == {"connect", "hello", "disconnect"}
    peer.leave("/chat")
    peer.wait_for(lambda: Chat.left)
    assert Chat.left == [sio.reason.CLIENT_DISCONNECT]


def test_namespace_subclass_may_override_trigger_event(sio):
    class Audited(Namespace):
        seen: list = []

        def trigger_event(self, event, *args):
            Audited.seen.append(event)
            return super().trigger_event(event, *args)

        def on_ping(self, sid):
            return "pong"

    sio.register_namespace(Audited("/a"))
    peer = sio.eio.open()
    peer.connect("/a")
    peer.connected_sid("/a")
    peer.emit("ping", namespace="/a", id=1)
    peer.emit("unknown", namespace="/a", id=2)
    assert peer.wait_packet(T.ACK, "/a").data == ["pong"]
    peer.wait_for(lambda: len(Audited.seen) == 3)
    assert Audited.seen == ["connect", "ping", "unknown"]


def test_disconnect_handler_with_one_or_two_arguments(make_server):
    one, two = make_server(), make_server()
    seen_one, seen_two = [], []
    one.on("disconnect", lambda sid: seen_one.append(sid))
    two.on("disconnect", lambda sid, reason: seen_two.append((sid, reason)))
    peer1, sid1 = connected(one)
    peer2, sid2 = connected(two)
    peer1.leave()
    peer2.leave()
    peer1.wait_for(lambda: seen_one and seen_two)
    assert seen_one == [sid1]
    assert seen_two == [(sid2, two.reason.CLIENT_DISCONNECT)]
