"""Connection-state recovery on the in-memory engine: pid, offsets, replay, bounds and refusals."""
import gevent
import pytest

from siothread.adapters import MemoryManager
from siothread.adapters.base import Adapter, BroadcastOptions, RecoveryOptions
from siothread.errors import ConnectionRefusedError
from siothread.protocol.socketio import PacketType as T

ON = {"max_disconnection_duration": 5}


def connect(sio, namespace="/", auth=None):
    peer = sio.eio.open()
    peer.connect(namespace, auth)
    answer = peer.wait_packet(T.CONNECT, namespace).data
    return peer, answer


def wait(predicate, timeout=2.0):
    deadline = gevent.get_hub().loop.now() + timeout
    while not predicate():
        if gevent.get_hub().loop.now() > deadline:
            raise AssertionError("condition not met in time")
        gevent.sleep(0.005)


def drop(sio, peer, sid):
    """The connection is lost (not a namespace disconnect); wait until the socket has closed."""
    peer.close()
    wait(lambda: sid not in sio._sockets)


def events(peer, namespace="/"):
    return [p.data for p in peer.find(T.EVENT, namespace)]


def without_offsets(evs):
    return [e[:-1] for e in evs]


def test_connect_answer_carries_a_secret_pid_and_events_an_offset(make_server):
    sio = make_server(recovery=ON)
    peer, answer = connect(sio)
    sid, pid = answer["sid"], answer["pid"]
    assert isinstance(pid, str) and len(pid) >= 16 and pid != sid  # >= 96 bits
    sio.emit("to_sid", 1, to=sid)
    sio.emit("to_all", 2)
    sio.emit("vol", 3, volatile=True)
    sio.emit("vol_sid", 4, to=sid, volatile=True)
    sio.emit("acked", 5, to=sid, callback=lambda *a: None)
    peer.wait_for(lambda: len(events(peer)) == 5)
    got = {e[0]: e[1:] for e in events(peer)}
    assert got["vol"] == [3] and got["vol_sid"] == [4] and got["acked"] == [5]  # no offset
    o1, o2 = got["to_sid"][-1], got["to_all"][-1]
    assert isinstance(o1, str) and isinstance(o2, str) and int(o2, 16) > int(o1, 16)
    acked = [p for p in peer.find(T.EVENT) if p.data[0] == "acked"]
    assert acked[0].id is not None


def test_without_recovery_nothing_changes(sio):
    peer, answer = connect(sio)
    assert answer == {"sid": answer["sid"]}
    sio.emit("x", 1, to=answer["sid"])
    sio.emit("y", 2)
    peer.wait_for(lambda: len(events(peer)) == 2)
    assert events(peer) == [["x", 1], ["y", 2]]
    assert sio.is_recovered(answer["sid"]) is False


def test_restore_gives_sid_rooms_data_and_only_missed_packets(make_server):
    sio = make_server(recovery=ON)
    seen = []
    sio.on("connect", lambda sid, environ, auth: seen.append((sid, sio.is_recovered(sid), auth)))
    peer, answer = connect(sio)
    sid, pid = answer["sid"], answer["pid"]
    sio.enter_room(sid, "news")
    sio.get_session(sid)["user"] = "ann"
    sio.emit("a", 1, to="news")
    peer.wait_for(lambda: events(peer))
    offset = events(peer)[-1][-1]
    other, _ = connect(sio)
    drop(sio, peer, sid)
    sio.emit("b", 2, to="news")
    sio.emit("c", 3, to=sid)
    sio.emit("d", 4, to="elsewhere")  # not its room
    sio.emit("e", 5, to="news", skip_sid=sid)  # excluded
    sio.emit("f", 6)  # everyone in the namespace
    peer2, answer2 = connect(sio, auth={"pid": pid, "offset": offset, "token": "t"})
    assert answer2 == {"sid": sid, "pid": pid}
    peer2.wait_for(lambda: len(events(peer2)) == 3)
    gevent.sleep(0.02)
    assert without_offsets(events(peer2)) == [["b", 2], ["c", 3], ["f", 6]]
    # the CONNECT answer comes first
    assert peer2.packets[0].type == T.CONNECT
    assert sio.rooms(sid) == [sid, "news"]
    assert sio.get_session(sid) == {"user": "ann"}
    assert sio.is_recovered(sid) and not sio.is_recovered(sid, namespace="/other")
    assert seen[-1] == (sid, True, {"token": "t"})  # pid and offset are not the app's auth
    # after recovery, events keep their offsets and the socket can recover again
    sio.emit("g", 7, to=sid)
    peer2.wait_for(lambda: len(events(peer2)) == 4)


def test_client_with_no_event_received_is_recovered_from_its_connection(make_server):
    sio = make_server(recovery=ON)
    sio.emit("before", 0)  # stored before the socket existed: never replayed
    peer, answer = connect(sio)
    sid = answer["sid"]
    drop(sio, peer, sid)
    sio.emit("missed", 1, to=sid)
    peer2, answer2 = connect(sio, auth={"pid": answer["pid"]})
    assert answer2["sid"] == sid
    peer2.wait_for(lambda: events(peer2))
    assert without_offsets(events(peer2)) == [["missed", 1]]


def test_offset_never_reaches_before_the_connection_or_the_room_join(make_server):
    sio = make_server(recovery=ON)
    peer, answer = connect(sio)
    sid = answer["sid"]
    sio.emit("news_before_join", 1, to="news")
    sio.enter_room(sid, "news")
    sio.emit("news_after_join", 2, to="news")
    drop(sio, peer, sid)
    peer2, answer2 = connect(sio, auth={"pid": answer["pid"], "offset": "0"})
    assert answer2["sid"] == sid
    peer2.wait_for(lambda: events(peer2))
    gevent.sleep(0.02)
    assert without_offsets(events(peer2)) == [["news_after_join", 2]]


@pytest.mark.parametrize("auth", [
    {"pid": "forged-pid-forged-pid-00"},
    {"pid": "x" * 1000},
    {"pid": 12345},
    "bad-offset",
    "future-offset",
])
def test_forged_or_invalid_recovery_data_gives_a_new_session(make_server, auth):
    sio = make_server(recovery=ON)
    peer, answer = connect(sio)
    drop(sio, peer, answer["sid"])
    if auth == "bad-offset":
        auth = {"pid": answer["pid"], "offset": "not hex!"}
    elif auth == "future-offset":
        auth = {"pid": answer["pid"], "offset": "ffffffff"}
    peer2, answer2 = connect(sio, auth=auth)
    assert answer2["sid"] != answer["sid"] and answer2["pid"] != answer["pid"]
    assert not sio.is_recovered(answer2["sid"])


def test_a_session_is_restored_once(make_server):
    sio = make_server(recovery=ON)
    peer, answer = connect(sio)
    drop(sio, peer, answer["sid"])
    store = sio.manager._store
    assert store.restore("/", answer["pid"], None) is not None
    assert store.restore("/", answer["pid"], None) is None
    _, again = connect(sio, auth={"pid": answer["pid"]})
    assert again["sid"] != answer["sid"]


@pytest.mark.parametrize("how", ["client", "server"])
def test_namespace_disconnects_are_not_recoverable(make_server, how):
    sio = make_server(recovery=ON)
    peer, answer = connect(sio)
    sid = answer["sid"]
    if how == "client":
        peer.leave()
    else:
        sio.disconnect(sid)
    wait(lambda: sid not in sio._sockets)
    assert sio.manager._store.stored_sessions == 0
    _, answer2 = connect(sio, auth={"pid": answer["pid"]})
    assert answer2["sid"] != sid


def test_sessions_and_packets_expire(make_server):
    sio = make_server(recovery={"max_disconnection_duration": 0.1})
    peer, answer = connect(sio)
    sid = answer["sid"]
    drop(sio, peer, sid)
    sio.emit("missed", 1, to=sid)
    store = sio.manager._store
    assert store.stored_sessions == 1 and store.stored_packets == 1
    gevent.sleep(0.35)  # the expiry timer runs without any traffic
    assert store.stored_sessions == 0 and store.stored_packets == 0
    _, answer2 = connect(sio, auth={"pid": answer["pid"]})
    assert answer2["sid"] != sid


def test_packet_cap_evicting_a_missed_packet_fails_the_recovery(make_server):
    sio = make_server(recovery={"max_stored_packets": 3})
    peer, answer = connect(sio)
    sid = answer["sid"]
    drop(sio, peer, sid)
    for i in range(5):
        sio.emit("missed", i, to=sid)
    assert sio.manager._store.stored_packets == 3
    _, answer2 = connect(sio, auth={"pid": answer["pid"]})
    assert answer2["sid"] != sid  # better a new session than a silent gap


def test_packet_cap_keeps_recovery_when_nothing_was_lost(make_server):
    sio = make_server(recovery={"max_stored_packets": 2})
    peer, answer = connect(sio)
    sid = answer["sid"]
    for i in range(5):
        sio.emit("live", i, to=sid)
    peer.wait_for(lambda: len(events(peer)) == 5)
    offset = events(peer)[-1][-1]
    drop(sio, peer, sid)
    sio.emit("missed", 1, to=sid)
    peer2, answer2 = connect(sio, auth={"pid": answer["pid"], "offset": offset})
    assert answer2["sid"] == sid
    peer2.wait_for(lambda: events(peer2))
    assert without_offsets(events(peer2)) == [["missed", 1]]


def test_session_cap_drops_the_oldest(make_server):
    sio = make_server(recovery={"max_sessions": 1})
    (p1, a1), (p2, a2) = connect(sio), connect(sio)
    drop(sio, p1, a1["sid"])
    drop(sio, p2, a2["sid"])
    assert sio.manager._store.stored_sessions == 1
    _, b1 = connect(sio, auth={"pid": a1["pid"]})
    _, b2 = connect(sio, auth={"pid": a2["pid"]})
    assert b1["sid"] != a1["sid"] and b2["sid"] == a2["sid"]


@pytest.mark.parametrize("skip", [True, False])
def test_skip_middlewares(make_server, skip):
    sio = make_server(recovery={"skip_middlewares": skip})
    calls = []

    @sio.use
    def mw(sid, environ, auth):
        calls.append(sio.is_recovered(sid))

    peer, answer = connect(sio)
    drop(sio, peer, answer["sid"])
    _, answer2 = connect(sio, auth={"pid": answer["pid"]})
    assert answer2["sid"] == answer["sid"]
    assert calls == ([False] if skip else [False, True])


def test_connect_handler_may_refuse_a_recovered_socket(make_server):
    sio = make_server(recovery=ON)

    @sio.on("connect")
    def on_connect(sid, environ, auth):
        if sio.is_recovered(sid):
            raise ConnectionRefusedError("no comeback")

    peer, answer = connect(sio)
    sio.enter_room(answer["sid"], "news")
    drop(sio, peer, answer["sid"])
    peer2 = sio.eio.open()
    peer2.connect("/", {"pid": answer["pid"]})
    assert peer2.wait_packet(T.CONNECT_ERROR).data["message"] == "no comeback"
    wait(lambda: answer["sid"] not in sio._sockets)
    assert sio.manager.get_rooms("/", answer["sid"]) == []


def test_reconnect_before_the_server_noticed_the_loss(make_server):
    # socketio/socket.io#4880: the old connection is still open on the server side
    sio = make_server(recovery=ON)
    order = []
    sio.on("connect", lambda sid, environ, auth: order.append(("connect", sid, sio.is_recovered(sid))))
    sio.on("disconnect", lambda sid, reason: order.append(("disconnect", sid, reason)))
    peer, answer = connect(sio)
    sid = answer["sid"]
    sio.enter_room(sid, "news")
    sio.emit("live", 1, to="news")
    peer.wait_for(lambda: events(peer))
    offset = events(peer)[-1][-1]
    peer2, answer2 = connect(sio, auth={"pid": answer["pid"], "offset": offset})
    assert answer2 == {"sid": sid, "pid": answer["pid"]}
    assert peer.closed
    wait(lambda: len(order) == 3)
    assert order == [("connect", sid, False), ("disconnect", sid, "transport close"), ("connect", sid, True)]
    assert sio.rooms(sid) == [sid, "news"]
    sio.emit("after", 2, to="news")
    peer2.wait_for(lambda: events(peer2))
    assert without_offsets(events(peer2)) == [["after", 2]]


def test_a_pid_only_works_in_its_namespace(make_server):
    sio = make_server(recovery=ON)
    sio.on("connect", lambda sid, environ: None, namespace="/other")
    peer, answer = connect(sio, "/other")
    drop(sio, peer, answer["sid"])
    _, answer2 = connect(sio, "/", auth={"pid": answer["pid"]})
    assert answer2["sid"] != answer["sid"]
    _, answer3 = connect(sio, "/other", auth={"pid": answer["pid"]})
    assert answer3["sid"] == answer["sid"]


def test_options_are_checked(make_server):
    with pytest.raises(TypeError):
        make_server(recovery={"max_disconnection": 3})
    with pytest.raises(TypeError):
        make_server(recovery="yes")
    for bad in ({"max_disconnection_duration": 0}, {"max_stored_packets": 0}, {"max_sessions": 1.5}):
        with pytest.raises(ValueError):
            make_server(recovery=bad)
    assert make_server(recovery=True)._recovery == RecoveryOptions()
    assert make_server(recovery=False)._recovery is None


def test_an_adapter_without_recovery_support_says_so():
    class Minimal(MemoryManager):
        enable_recovery = Adapter.enable_recovery

    with pytest.raises(NotImplementedError):
        Minimal().enable_recovery(RecoveryOptions())
    adapter = MemoryManager()
    assert adapter.recovery is None
    assert adapter.restore_session("/", "pid", None) is None
    assert isinstance(BroadcastOptions.build("r"), BroadcastOptions)
