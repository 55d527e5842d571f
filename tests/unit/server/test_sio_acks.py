"""Server -> client acknowledgements: callbacks, call(), timeouts, disconnects, broadcast acks."""
import time

import gevent
import pytest

from siothread.errors import DisconnectedError, TimeoutError
from siothread.protocol.socketio import PacketType as T
from siothread.server import BroadcastAckResult


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def test_emit_with_callback_gets_ack_arguments(sio):
    got = []
    peer, sid = connected(sio)
    sio.emit("q", "x", to=sid, callback=lambda *args: got.append(args))
    req = peer.wait_packet(T.EVENT, event="q")
    assert req.id is not None
    peer.ack(req.id, 1, "two")
    peer.wait_for(lambda: got)
    assert got == [(1, "two")]
    assert sio._sockets[sid].acks == {}


def test_emit_with_callback_and_timeout_reports_errors_node_style(sio):
    got = []
    peer, sid = connected(sio)
    sio.emit("late", to=sid, callback=lambda err, *args: got.append((err, args)), timeout=0.05)
    sio.emit("answered", to=sid, callback=lambda err, *args: got.append((err, args)), timeout=1)
    answered = peer.wait_packet(T.EVENT, event="answered")
    peer.ack(answered.id, "yes")
    peer.wait_for(lambda: len(got) == 2)
    assert got[0] == (None, ("yes",))
    assert isinstance(got[1][0], TimeoutError)
    late = peer.find(T.EVENT, event="late")[0]
    peer.ack(late.id, "too late")  # ignored: the entry is gone
    gevent.sleep(0.02)
    assert len(got) == 2 and sio._sockets[sid].acks == {}


def test_callback_with_timeout_fails_at_once_with_disconnected_error(sio):
    got = []
    peer, sid = connected(sio)
    sio.emit("q", to=sid, callback=lambda err, *a: got.append(err), timeout=5)
    peer.close()
    peer.wait_for(lambda: got, timeout=1)
    assert isinstance(got[0], DisconnectedError)


def test_call_returns_value_tuple_or_none(sio):
    peer, sid = connected(sio)
    results = []

    def ask():
        results.append(sio.call("one", to=sid, timeout=2))
        results.append(sio.call("two", to=sid, timeout=2))
        results.append(sio.call("none", to=sid, timeout=2))

    g = gevent.spawn(ask)
    peer.ack(peer.wait_packet(T.EVENT, event="one").id, 1)
    peer.ack(peer.wait_packet(T.EVENT, event="two").id, 1, 2)
    peer.ack(peer.wait_packet(T.EVENT, event="none").id)
    g.join(2)
    assert results == [1, (1, 2), None]


def test_call_times_out(sio):
    peer, sid = connected(sio)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        sio.call("silence", to=sid, timeout=0.1)
    assert 0.09 <= time.monotonic() - start < 1
    assert sio._sockets[sid].acks == {}


def test_call_fails_at_once_when_client_leaves(sio):
    peer, sid = connected(sio)
    gevent.spawn_later(0.05, peer.close)
    start = time.monotonic()
    with pytest.raises(DisconnectedError):
        sio.call("q", to=sid, timeout=30)
    assert time.monotonic() - start < 1


def test_call_to_departed_sid_raises_disconnected(sio):
    peer, sid = connected(sio)
    peer.close()
    with pytest.raises(DisconnectedError):
        sio.call("q", to=sid, timeout=1)


def test_ten_thousand_pending_acks_fail_on_disconnect_and_table_empties(sio):
    peer, sid = connected(sio)
    errors = []
    for _ in range(10_000):
        sio.emit("q", to=sid, callback=lambda err, *a: errors.append(err), timeout=60)
    sock = sio._sockets[sid]
    assert len(sock.acks) == 10_000
    peer.close()
    assert sock.acks == {}
    peer.wait_for(lambda: len(errors) == 10_000, timeout=5)
    assert all(isinstance(e, DisconnectedError) for e in errors)


def test_unknown_duplicate_and_foreign_ack_ids_are_ignored(sio):
    got = []
    a, sid_a = connected(sio)
    b, sid_b = connected(sio)
    sio.emit("q", to=sid_a, callback=lambda *args: got.append(args))
    req = a.wait_packet(T.EVENT, event="q")
    b.ack(req.id, "from b")  # another client's ack id: isolation
    a.ack(req.id + 1000, "unknown")
    gevent.sleep(0.02)
    assert got == []
    a.ack(req.id, "mine")
    a.ack(req.id, "again")
    gevent.sleep(0.02)
    assert got == [("mine",)]
    assert not a.closed and not b.closed


def test_binary_ack_from_client(sio):
    peer, sid = connected(sio)
    out = []
    g = gevent.spawn(lambda: out.append(sio.call("blob", to=sid, timeout=2)))
    req = peer.wait_packet(T.EVENT, event="blob")
    peer.ack(req.id, {"data": b"\x00\x01", "more": [b"\xff"]})
    g.join(2)
    assert out == [{"data": b"\x00\x01", "more": [b"\xff"]}]


def test_broadcast_with_acks_reports_per_sid(sio):
    peers = [connected(sio) for _ in range(3)]
    for _, sid in peers:
        sio.enter_room(sid, "team")
    results = []
    sio.emit("vote", "?", to="team", timeout=0.3, callback=results.append)
    (p0, s0), (p1, s1), (p2, s2) = peers
    p0.ack(p0.wait_packet(T.EVENT, event="vote").id, "yes")
    p1.wait_packet(T.EVENT, event="vote")
    p2.wait_packet(T.EVENT, event="vote")
    p2.close()
    p0.wait_for(lambda: results, timeout=2)
    result = results[0]
    assert isinstance(result, BroadcastAckResult)
    assert result.responses == {s0: "yes"}
    assert result.timed_out == frozenset({s1})
    assert result.disconnected == frozenset({s2})
    assert not result.ok and len(result) == 3
    assert sio._sockets[s1].acks == {}  # timed-out entries are removed


def test_broadcast_call_completes_early_when_everyone_acked(sio):
    peers = [connected(sio) for _ in range(4)]
    out = []
    empty = sio.to("nobody-here").timeout(5).call("hey")
    assert len(empty) == 0 and empty.ok

    g2 = gevent.spawn(lambda: out.append(sio.timeout(5).call("hey", 1)))
    for peer, sid in peers:
        req = peer.wait_packet(T.EVENT, event="hey")
        assert req.data == ["hey", 1]
        peer.ack(req.id, sid)
    start = time.monotonic()
    g2.join(2)
    assert time.monotonic() - start < 1
    result = out[0]
    assert result.ok and result.responses == {sid: sid for _, sid in peers}
    # one ack id for every recipient: the packet was encoded once
    assert len({p.find(T.EVENT, event="hey")[0].id for p, _ in peers}) == 1


def test_call_to_a_room_returns_a_result(sio):
    (peer, sid) = connected(sio)
    sio.enter_room(sid, "r")
    out = []
    g = gevent.spawn(lambda: out.append(sio.call("x", to="r", timeout=1)))
    peer.ack(peer.wait_packet(T.EVENT, event="x").id, 5)
    g.join(2)
    assert out[0].responses == {sid: 5}


def test_call_inside_own_connect_handler_is_refused(sio):
    errors = []

    @sio.on("connect")
    def connect(sid, environ):
        try:
            sio.call("early", to=sid, timeout=1)
        except RuntimeError as exc:
            errors.append(exc)

    connected(sio)
    assert len(errors) == 1
