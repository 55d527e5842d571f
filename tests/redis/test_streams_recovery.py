"""Connection-state recovery across a Redis Streams cluster (two siothread nodes, one Node node).

A client reaches the nodes through a :class:`~switchboard.Switchboard`; its
connection is cut, events are emitted from both kinds of node during the gap
(to it, its room, another room, everyone but its room, volatile), then it
reconnects to *another* node: same sid, rooms and session data, every missed
event once and in order, nothing it was not entitled to.
"""
import gevent
import pytest

import siothread
from nodes import wait_until
from switchboard import JsClient, Switchboard
from test_streams_cluster import STREAM, cluster, plain, py_node  # noqa: F401 - the cluster fixture

pytestmark = pytest.mark.node


@pytest.fixture
def board():
    sb = Switchboard()
    yield sb
    sb.close()


class PyClient:
    """siothread.Client recording ``tick`` events (its offsets are stripped by the client)."""

    def __init__(self, url, name, auth=None):
        self.ticks = []
        self.client = siothread.Client(reconnection_delay=0.2, reconnection_delay_max=0.2, randomization_factor=0)
        self.client.on("tick", lambda *args: self.ticks.append(args[0]))
        self.client.connect(url, auth=auth or {"name": name}, transports=["websocket"])

    @property
    def sid(self):
        return self.client.get_sid()

    def close(self):
        self.client.disconnect()


def emit(node, redis, **cmd):
    """Emit from ``node`` and wait until its entry is in the stream (Node's emit returns before its XADD)."""
    before = int(redis.cli("XLEN", STREAM) or 0)
    node.request("emit", event="tick", **cmd)
    if not cmd.get("volatile") or node.kind == "js":
        wait_until(lambda: int(redis.cli("XLEN", STREAM) or 0) > before, message="the emit never reached the stream")


def gap(nodes, redis, first, restorer="py"):
    """Events emitted while the client (in room ``red`` only) is away; returns those it must get
    from a ``restorer`` node (Node's adapter replays volatile broadcasts too, siothread does not)."""
    py1, py2, js = nodes
    emit(py1, redis, args=[first])
    emit(js, redis, to="red", args=[first + 1])
    emit(py2, redis, to="blue", args=[-1])  # not its room
    emit(js, redis, args=[-2], **{"except": "red"})  # its room is excluded
    emit(py1, redis, args=[-3], volatile=True)  # volatile: never stored
    emit(py2, redis, to="red", args=[first + 2])
    if restorer == "js":
        return [first, first + 1, -3, first + 2]
    return [first, first + 1, first + 2]


def away(board, node, sid):
    """Cut the client's connection and wait until ``node`` has let its socket go."""
    board.route(None)
    wait_until(lambda: node.request("recovered", sid=sid) is None, message="the node never noticed the drop")


def test_siothread_client_recovers_on_the_other_siothread_node(cluster, redis_server, board):
    py1, py2, js = cluster
    board.route(py1.port)
    c = PyClient(board.url, "r")
    try:
        sid = c.sid
        assert c.client.call("join", "red", timeout=5) == "ok"
        emit(py1, redis_server, args=[1])
        wait_until(lambda: c.ticks == [1])
        away(board, py1, sid)
        expected = gap(cluster, redis_server, 2)
        board.route(py2.port)
        wait_until(lambda: c.client.connected and c.sid == sid and c.client.recovered,
                   message="not recovered on the other node")
        wait_until(lambda: c.ticks == [1, *expected], message=f"missed events: {c.ticks}")
        assert py2.request("rooms", sid=sid) == sorted([sid, "red"])
        assert [s["data"] for s in py2.request("fetch", to=sid)] == [{"name": "r"}]
        emit(js, redis_server, args=[9])  # live again, once
        wait_until(lambda: c.ticks == [1, *expected, 9])
        gevent.sleep(0.2)
        assert c.ticks == [1, *expected, 9]
    finally:
        c.close()


def test_socketio_client_recovers_from_siothread_to_node_and_back(cluster, redis_server, board):
    py1, py2, js = cluster
    board.route(py1.port)
    c = JsClient(board.url, "j")
    try:
        sid = c.wait_connects(1)[1]
        c.send("join", "red")
        wait_until(lambda: ["ack", "ok"] in c.seen)
        emit(py1, redis_server, args=[1])
        wait_until(lambda: len(c.events("tick")) == 1)
        away(board, py1, sid)
        first = gap(cluster, redis_server, 2, restorer="js")
        board.route(js.port)  # a siothread session restored by Node
        assert c.wait_connects(2) == ["connect", sid, True]
        wait_until(lambda: [plain(e)[0] for e in c.events("tick")] == [1, *first], message=f"events: {c.seen}")
        assert js.request("rooms", sid=sid) == sorted([sid, "red"])
        assert [s["data"] for s in js.request("fetch", to=sid)] == [{"name": "j"}]
        away(board, js, sid)
        second = gap(cluster, redis_server, 5)
        board.route(py2.port)  # a Node session restored by siothread
        assert c.wait_connects(3) == ["connect", sid, True]
        wait_until(lambda: [plain(e)[0] for e in c.events("tick")] == [1, *first, *second],
                   message=f"events: {c.events('tick')}")
        assert py2.request("rooms", sid=sid) == sorted([sid, "red"])
        assert [s["data"] for s in py2.request("fetch", to=sid)] == [{"name": "j"}]
        offsets = [e[-1] for e in c.events("tick")]
        assert len(set(offsets)) == len(offsets)  # each event once, each with its stream entry id
    finally:
        c.close()


def test_recovery_after_the_node_restarted(cluster, redis_server, board):
    py1, py2, js = cluster
    node_a = py_node(redis_server.url)
    restarted = None
    c = None
    try:
        board.route(node_a.port)
        c = PyClient(board.url, "d")
        sid = c.sid
        assert c.client.call("join", "red", timeout=5) == "ok"
        emit(node_a, redis_server, args=[1])
        wait_until(lambda: c.ticks == [1])
        node_a.close()  # a rolling deploy: the node shuts down, its sockets' sessions go to Redis
        board.route(None)
        expected = gap(cluster, redis_server, 2)
        restarted = py_node(redis_server.url)
        board.route(restarted.port)
        wait_until(lambda: c.client.connected and c.sid == sid, message="not recovered after the restart")
        wait_until(lambda: c.ticks == [1, *expected], message=f"events: {c.ticks}")
        assert restarted.request("rooms", sid=sid) == sorted([sid, "red"])
    finally:
        if c is not None:
            c.close()
        for node in (node_a, restarted):
            if node is not None:
                node.close()


def test_protections_hold_across_nodes(cluster, redis_server, board):
    """The pid proves the client; a session is restored once; never a replay from before the socket
    connected, nor of a room's events from before it joined."""
    py1, py2, js = cluster
    emit(py1, redis_server, args=[-10])  # before the client connected
    old_entry = redis_server.cli("XREVRANGE", STREAM, "+", "-", "COUNT", "1").splitlines()[0]
    emit(js, redis_server, args=[-12])  # after that offset, still before the client connected
    board.route(py1.port)
    c = PyClient(board.url, "p")
    sid = c.sid
    emit(py2, redis_server, to="red", args=[-11])  # to a room it has not joined yet
    assert c.client.call("join", "red", timeout=5) == "ok"
    pid = c.client._namespaces["/"].pid
    c.client.reconnection = False
    away(board, py1, sid)
    c.close()
    emit(js, redis_server, to="red", args=[1])
    board.route(py2.port)
    forged = PyClient(board.url, "x", auth={"pid": pid[:-2] + "xx", "offset": old_entry})
    assert forged.sid != sid and forged.ticks == []
    forged.close()
    # the real pid with an offset from before the socket connected: replay starts at the connection
    thief = PyClient(board.url, "y", auth={"pid": pid, "offset": old_entry})
    try:
        assert thief.sid == sid
        wait_until(lambda: thief.ticks == [1])
        gevent.sleep(0.2)
        assert thief.ticks == [1]
    finally:
        thief.close()
    again = PyClient(board.url, "z", auth={"pid": pid, "offset": old_entry})
    assert again.sid != sid  # restored once
    again.close()


def test_every_event_once_when_restored_while_both_nodes_broadcast(cluster, redis_server, board):
    """The client comes back to a node that is broadcasting itself while another node broadcasts too:
    its replay and the live deliveries meet without a gap or a double (the restored socket's floor)."""
    py1, py2, js = cluster
    got = {"a": [], "b": []}
    client = siothread.Client(reconnection_delay=0.1, reconnection_delay_max=0.1, randomization_factor=0)
    for name in got:
        client.on(name, lambda i, name=name: got[name].append(i))
    board.route(py1.port)
    client.connect(board.url, transports=["websocket"])
    try:
        sid = client.get_sid()
        jobs = [gevent.spawn(py1.request, "emit_many", event="a", count=300, pause=0.003, timeout=60),
                gevent.spawn(py2.request, "emit_many", event="b", count=300, pause=0.003, timeout=60)]
        wait_until(lambda: len(got["a"]) > 20 and len(got["b"]) > 20)
        board.route(None)
        gevent.sleep(0.3)
        board.route(py1.port)
        gevent.joinall(jobs, raise_error=True)
        wait_until(lambda: len(got["a"]) >= 300 and len(got["b"]) >= 300, timeout=15,
                   message=f"events missing: {len(got['a'])}, {len(got['b'])}")
        gevent.sleep(0.2)
        assert client.get_sid() == sid and client.recovered
        assert got["a"] == list(range(300)) and got["b"] == list(range(300))
    finally:
        client.disconnect()
