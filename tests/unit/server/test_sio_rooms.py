"""Rooms and broadcasting through the adapter: targets, exclusions, flags, encode-once, socket management."""
import gevent
import pytest

from siothread.adapters import BroadcastOptions, MemoryManager
from siothread.protocol import socketio as sioproto
from siothread.protocol.socketio import PacketType as T


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def got(peer, event):
    return [p.data[1:] for p in peer.find(T.EVENT, event=event)]


def test_rooms_enter_leave_close(sio):
    peer, sid = connected(sio)
    assert sio.rooms(sid) == [sid]
    sio.enter_room(sid, "b")
    sio.enter_room(sid, "a")
    assert sio.rooms(sid) == [sid, "a", "b"]
    sio.leave_room(sid, "b")
    sio.leave_room(sid, sid)  # a socket never leaves its own room
    assert sio.rooms(sid) == [sid, "a"]
    sio.close_room("a")
    assert sio.rooms(sid) == [sid]


def test_emit_to_room_rooms_and_exclusions(sio):
    (a, sa), (b, sb), (c, sc), (d, sd) = [connected(sio) for _ in range(4)]
    for sid in (sa, sb):
        sio.enter_room(sid, "red")
    for sid in (sb, sc):
        sio.enter_room(sid, "blue")
    sio.enter_room(sc, "muted")
    sio.emit("r", 1, to="red")
    sio.emit("rb", 2, to=["red", "blue"])  # b is in both: receives once
    sio.emit("skip", 3, room="red", skip_sid=sa)
    sio.emit("all_but_muted", 4, skip_sid="muted")
    sio.to(["red", "blue"]).except_("muted").emit("chain", 5)
    sio.emit("many_skips", 6, skip_sid=[sa, sb])
    gevent.sleep(0.02)
    assert (got(a, "r"), got(b, "r"), got(c, "r"), got(d, "r")) == ([[1]], [[1]], [], [])
    assert (got(a, "rb"), got(b, "rb"), got(c, "rb"), got(d, "rb")) == ([[2]], [[2]], [[2]], [])
    assert (got(a, "skip"), got(b, "skip")) == ([], [[3]])
    assert [len(got(p, "all_but_muted")) for p in (a, b, c, d)] == [1, 1, 0, 1]
    assert [len(got(p, "chain")) for p in (a, b, c, d)] == [1, 1, 0, 0]
    assert [len(got(p, "many_skips")) for p in (a, b, c, d)] == [0, 0, 1, 1]


def test_broadcast_stays_in_its_namespace(sio):
    sio.on("connect", lambda sid, environ: None, namespace="/other")
    a, sa = connected(sio, "/")
    b, sb = connected(sio, "/other")
    sio.emit("main_only", 1)
    sio.emit("other_only", 2, namespace="/other")
    sio.of("/other").emit("chained", 3)
    gevent.sleep(0.02)
    assert got(a, "main_only") == [[1]] and got(b, "main_only") == []
    assert got(b, "other_only") == [[2]] and got(a, "other_only") == []
    assert got(b, "chained") == [[3]]


def test_two_hundred_client_room_broadcast_is_encoded_once(sio, monkeypatch):
    peers = [connected(sio) for _ in range(200)]
    for _, sid in peers:
        sio.enter_room(sid, "big")
    outsider, _ = connected(sio)
    calls = []
    real_encode = sio._encode

    def counting_encode(packet):
        calls.append(packet)
        return real_encode(packet)

    monkeypatch.setattr(sio, "_encode", counting_encode)
    before = sio.eio.prepare_calls
    sio.emit("news", {"headline": "x" * 100, "blob": b"\x00" * 10}, to="big")
    assert len(calls) == 1
    assert sio.eio.prepare_calls - before == 1
    for peer, _ in peers:
        assert got(peer, "news") == [[{"headline": "x" * 100, "blob": b"\x00" * 10}]]
    assert got(outsider, "news") == []
    # every recipient received the very same prepared object's messages
    assert len({id(peer.writes[-1][0]) for peer, _ in peers}) == 1


def test_volatile_is_dropped_for_a_client_that_cannot_take_it(sio):
    (a, _sa), (b, sb) = connected(sio), connected(sio)
    b.writable = False
    sio.emit("tick", 1, volatile=True)
    sio.volatile.emit("tock", 2)
    sio.emit("tick", 3, to=sb, volatile=True)
    sio.emit("important", 4)
    gevent.sleep(0.02)
    assert got(a, "tick") == [[1]] and got(a, "tock") == [[2]]
    assert got(b, "tick") == [] and got(b, "tock") == [] and got(b, "important") == [[4]]


def test_compress_flag_reaches_the_engine(sio, monkeypatch):
    peer, sid = connected(sio)
    flags = []
    real = sio.eio.prepare
    monkeypatch.setattr(sio.eio, "prepare", lambda messages, compress=True: flags.append(compress) or
                        real(messages, compress=compress))
    sio.emit("a", 1, to=sid, compress=False)
    connected(sio)
    sio.emit("b", 2, compress=False)
    sio.to(sid).compress(True).emit("c", 3)
    assert flags == [False, False, True]


def test_enter_room_after_disconnect_is_a_no_op(sio):
    peer, sid = connected(sio)
    release = gevent.event.Event()
    seen = []

    @sio.on("disconnect")
    def on_disconnect(sid_, reason):
        seen.append(sio.rooms(sid_))
        sio.enter_room(sid_, "late")  # must not resurrect anything
        release.wait(1)

    sio.enter_room(sid, "kept")
    peer.close()
    gevent.sleep(0.02)
    assert seen == [[sid, "kept"]]  # rooms still readable in the disconnect handler
    release.set()
    gevent.sleep(0.02)
    sio.enter_room(sid, "later")
    assert sio.rooms(sid) == [] and sio.manager.get_namespaces() == []


def test_entering_another_sockets_own_room_is_refused(sio):
    (_a, sa), (_b, sb) = connected(sio), connected(sio)
    with pytest.raises(ValueError):
        sio.enter_room(sa, sb)


def test_fetch_sockets_and_remote_socket_methods(sio):
    (a, sa), (_b, sb) = connected(sio), connected(sio)
    sio.enter_room(sa, "vip")
    sio.save_session(sa, {"user": "ann"})
    sockets = sio.fetch_sockets()
    assert {s.id for s in sockets} == {sa, sb}
    vip = sio.fetch_sockets("vip")
    assert [s.id for s in vip] == [sa]
    s = vip[0]
    assert s.rooms == {sa, "vip"} and s.data == {"user": "ann"}
    assert s.handshake["address"] == "127.0.0.1" and s.handshake["headers"]["user-agent"] == "fake"
    assert s.handshake["query"]["transport"] == "websocket"
    s.emit("direct", 1)
    s.join("gold")
    s.leave("vip")
    gevent.sleep(0.02)
    assert got(a, "direct") == [[1]]
    assert sio.rooms(sa) == [sa, "gold"]
    s.disconnect()
    a.wait_packet(T.DISCONNECT)
    assert not a.closed  # only the namespace connection ends


def test_sockets_join_leave_and_disconnect_sockets(sio):
    (a, sa), (b, sb), (c, sc) = [connected(sio) for _ in range(3)]
    sio.enter_room(sa, "x")
    sio.enter_room(sb, "x")
    sio.sockets_join("y", to="x")
    assert sorted(s.id for s in sio.fetch_sockets("y")) == sorted([sa, sb])
    sio.sockets_join(["z1", "z2"])
    assert sio.rooms(sc) == [sc, "z1", "z2"]
    sio.sockets_leave("z1", to="x")
    assert "z1" not in sio.rooms(sa) and "z1" in sio.rooms(sc)
    sio.in_("y").except_(sb).disconnect_sockets(close=True)
    a.wait_for(lambda: a.closed)
    assert not b.closed and not c.closed
    sio.disconnect_sockets()
    b.wait_packet(T.DISCONNECT)
    c.wait_packet(T.DISCONNECT)


def test_server_side_emit_and_server_count_single_node(sio):
    replies = []
    sio.server_side_emit("hello", 1, callback=replies.append)
    assert replies == [[]]
    assert sio.manager.server_count() == 1
    seen = []
    sio.on_server_event("hello", lambda x: seen.append(x) or "ack")
    assert sio._broadcaster.handle_server_side_emit("/", "hello", [5]) == "ack" and seen == [5]


def test_memory_manager_selection_directly():
    m = MemoryManager()
    for sid in ("s1", "s2", "s3"):
        m.connect("/", sid, "e" + sid)
    m.enter_room("/", "s1", "r")
    m.enter_room("/", "s2", "r")
    m.enter_room("/", "s2", "q")
    assert m.select("/", BroadcastOptions.build()) == ["s1", "s2", "s3"]
    assert m.select("/", BroadcastOptions.build("r")) == ["s1", "s2"]
    assert sorted(m.select("/", BroadcastOptions.build(["r", "q"]))) == ["s1", "s2"]
    assert m.select("/", BroadcastOptions.build(None, "q")) == ["s1", "s3"]
    assert m.select("/", BroadcastOptions.build("nope")) == []
    assert sorted(m.get_participants("/", "r")) == [("s1", "es1"), ("s2", "es2")]
    events = []
    m.add_room_listener(lambda *e: events.append(e))
    m.disconnect("/", "s2")
    assert sorted(events) == [("leave", "/", "q", "s2"), ("leave", "/", "r", "s2")]
    assert m.select("/", BroadcastOptions.build("q")) == []
    with pytest.raises(TypeError):
        m.enter_room("/", "s1", 5)  # type: ignore[arg-type]


def test_sessions(sio):
    peer, sid = connected(sio)
    assert sio.get_session(sid) == {}
    sio.save_session(sid, {"n": 1})
    with sio.session(sid) as s:
        s["n"] += 1
    assert sio.get_session(sid) == {"n": 2}
    with pytest.raises(KeyError):
        sio.get_session("nope")
    with pytest.raises(TypeError):
        sio.save_session(sid, ["not", "a", "dict"])  # type: ignore[arg-type]
    assert sio.get_environ(sid)["REMOTE_ADDR"] == "127.0.0.1"
    assert sio.transport(sid) == "websocket"


def test_packets_are_valid_for_the_codec(sio):
    peer, sid = connected(sio)
    with pytest.raises(TypeError):
        sio.emit("x", object(), to=sid)
    for raw in peer.raw:
        if isinstance(raw, str):
            sioproto.decode(raw, role="client")
