"""Disconnect reasons, server-side disconnect, background tasks and graceful shutdown."""
import time

import gevent
import pytest

from siothread.errors import DisconnectedError
from siothread.protocol.socketio import PacketType as T
from siothread.server import reason


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


@pytest.mark.parametrize("engine_reason, expected", [
    ("client disconnect", reason.TRANSPORT_CLOSE),
    ("ping timeout", reason.PING_TIMEOUT),
    ("transport close", reason.TRANSPORT_CLOSE),
    ("transport error", reason.TRANSPORT_ERROR),
    ("slow consumer", reason.SLOW_CONSUMER),
])
def test_engine_close_reasons_map_to_socketio_reasons(sio, engine_reason, expected):
    seen = []
    sio.on("disconnect", lambda sid, why: seen.append(why))
    peer, _ = connected(sio)
    sio.eio._close(peer.sid, engine_reason)
    peer.wait_for(lambda: seen)
    assert seen == [expected]


def test_server_disconnect_sends_disconnect_packet_and_keeps_connection(sio):
    seen = []
    sio.on("disconnect", lambda sid, why: seen.append((sid, why)))
    sio.on("connect", lambda sid, environ: None, namespace="/b")
    peer, sid = connected(sio)
    peer.connect("/b")
    sid_b = peer.connected_sid("/b")
    sio.disconnect(sid)
    assert peer.wait_packet(T.DISCONNECT, "/").namespace == "/"
    peer.wait_for(lambda: seen)
    assert seen == [(sid, sio.reason.SERVER_DISCONNECT)]
    assert not peer.closed and sid_b in sio._sockets
    sio.disconnect(sid)  # already gone: no-op
    peer.emit("after", namespace="/")  # ignored, not dispatched
    assert not peer.closed


def test_disconnect_handler_runs_once_after_queued_events(sio):
    order = []
    sio.on("work", lambda sid, i: (gevent.sleep(0.01), order.append(i)))
    sio.on("disconnect", lambda sid, why: order.append(why))
    peer, sid = connected(sio)
    for i in range(3):
        peer.emit("work", i)
    peer.close()
    peer.wait_for(lambda: len(order) == 4)
    gevent.sleep(0.02)
    assert order == [0, 1, 2, sio.reason.TRANSPORT_CLOSE]
    assert sio._sockets == {} and sio._clients == {}


def test_start_background_task_and_sleep(sio):
    box = []
    task = sio.start_background_task(lambda a, b=0: box.append(a + b), 1, b=2)
    task.join(1)
    assert box == [3]
    forever = sio.start_background_task(lambda: [sio.sleep(0.01) for _ in iter(int, 1)])
    sio.shutdown(timeout=0.2)
    assert forever.dead


def test_shutdown_drains_fails_acks_and_disconnects_with_reason(make_server):
    sio = make_server()
    seen = []
    finished = []

    def slow(sid):
        gevent.sleep(0.1)
        finished.append(sid)
        return "done"

    def waits(sid):
        try:
            sio.call("answer-me", to=sid, timeout=30)
        except DisconnectedError:
            finished.append("call failed")

    sio.on("slow", slow)
    sio.on("waits", waits)
    sio.on("disconnect", lambda sid, why: seen.append(why))
    peers = [connected(sio) for _ in range(3)]
    (p0, s0), (p1, s1), (p2, s2) = peers
    p0.emit("slow", id=1)
    p1.emit("waits")
    p1.wait_packet(T.EVENT, event="answer-me")
    gevent.sleep(0.01)
    start = time.monotonic()
    sio.shutdown(timeout=2)
    assert time.monotonic() - start < 1.5
    assert sorted(finished, key=str) == sorted([s0, "call failed"], key=str)
    assert p0.find(T.ACK)[0].data == ["done"]  # the running handler's ack was flushed
    assert seen == [sio.reason.SERVER_SHUTTING_DOWN] * 3
    assert all(p.closed and p.close_reason == "server shutting down" for p, _ in peers)
    assert sio.eio.shutdown_calls and not sio.eio.accepting
    assert sio._sockets == {} and sio._clients == {} and not sio._workers and not sio._tasks
    with pytest.raises(ConnectionRefusedError):
        sio.eio.open()


def test_shutdown_kills_handlers_that_outlive_the_deadline(make_server):
    sio = make_server()
    after = []
    sio.after_event(lambda info, error: after.append((info.event, type(error).__name__)))
    sio.on("stuck", lambda sid: gevent.sleep(30))
    peer, _ = connected(sio)
    peer.emit("stuck")
    gevent.sleep(0.01)
    start = time.monotonic()
    sio.shutdown(timeout=0.3)
    assert time.monotonic() - start < 1.5
    assert ("stuck", "GreenletExit") in after  # teardown hooks run even when killed
    assert not sio._workers


def test_pending_broadcast_ack_fails_on_shutdown(make_server):
    sio = make_server()
    results = []
    _, sid = connected(sio)
    sio.timeout(30).emit("q", callback=results.append)
    sio.shutdown(timeout=1)
    assert len(results) == 1
    assert results[0].disconnected == frozenset({sid}) and not results[0].responses
    assert not sio._broadcaster.collectors
