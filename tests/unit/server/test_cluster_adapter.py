"""ClusterAdapter semantics over an in-memory bus: two or three servers share rooms, acks and sockets.

The bus encodes every message with the wire codec and hands it to each other
node's queue, drained by one greenlet per node (as a broker subscription is),
so the tests see the same ordering and decoding as the Redis transports.
"""
import gevent
import gevent.queue
import pytest

from siothread.adapters import wire
from siothread.adapters.cluster import ClusterAdapter, ClusterAdapterWithHeartbeat, MessageType
from siothread.protocol.socketio import PacketType as T


class Bus:
    def __init__(self):
        self.nodes = []

    def send(self, sender, payload, to=None):
        for node in self.nodes:
            if node is not sender and (to is None or node.uid == to):
                node.inbox.put(payload)


class _Loopback:
    def __init__(self, bus, **kwargs):
        super().__init__(**kwargs)
        self.bus = bus
        self.inbox = gevent.queue.Queue()
        self.reader = None
        bus.nodes.append(self)

    def initialize(self):
        super().initialize()
        if self.reader is None:
            self.reader = gevent.spawn(self._read)

    def _read(self):
        for payload in self.inbox:
            self.on_message(wire.decode(payload))

    def do_publish(self, namespace, message):
        self.bus.send(self, wire.encode_auto(message))

    def do_publish_response(self, namespace, uid, response):
        self.bus.send(self, wire.encode_auto(response), to=uid)

    def close(self):
        super().close()
        if self.reader is not None:
            self.reader.kill()
        self.bus.nodes.remove(self)


class CountingAdapter(_Loopback, ClusterAdapter):
    def cluster_size(self, namespace):
        return len(self.bus.nodes)


class HeartbeatAdapter(_Loopback, ClusterAdapterWithHeartbeat):
    pass


def deep(n):
    value = ["deep"]
    for _ in range(n):
        value = [value]
    return value


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def got(peer, event):
    return [p.data[1:] for p in peer.find(T.EVENT, event=event)]


@pytest.fixture(params=["counting", "heartbeat"])
def cluster(request, make_server):
    bus = Bus()
    kind = CountingAdapter if request.param == "counting" else HeartbeatAdapter
    options = {"heartbeat_interval": 0.2, "heartbeat_timeout": 1.0} if request.param == "heartbeat" else {}

    def make(n):
        servers = [make_server(client_manager=kind(bus, requests_timeout=1.0, **options)) for _ in range(n)]
        if request.param == "heartbeat":
            deadline = gevent.get_hub().loop.now() + 3
            while any(len(s.manager.nodes) < n - 1 for s in servers):
                assert gevent.get_hub().loop.now() < deadline, "nodes never heard each other"
                gevent.sleep(0.02)
        return servers

    return make


def test_broadcast_rooms_and_exclusions_cross_nodes(cluster):
    a, b = cluster(2)
    (pa, sa), (pb, sb), (pc, sc) = connected(a), connected(b), connected(b)
    b.enter_room(sb, "red")
    b.enter_room(sc, "muted")
    a.emit("all", 1)
    a.emit("red", 2, to="red")
    a.emit("not_muted", 3, skip_sid="muted")
    a.emit("local_only", 4, ignore_queue=True)
    b.emit("to_sid", 5, to=sa)
    pc.wait_for(lambda: got(pa, "to_sid"))
    pb.wait_for(lambda: got(pb, "not_muted"))
    gevent.sleep(0.05)
    assert [got(p, "all") for p in (pa, pb, pc)] == [[[1]], [[1]], [[1]]]
    assert [got(p, "red") for p in (pa, pb, pc)] == [[], [[2]], []]
    assert [len(got(p, "not_muted")) for p in (pa, pb, pc)] == [1, 1, 0]
    assert [len(got(p, "local_only")) for p in (pa, pb, pc)] == [1, 0, 0]
    assert got(pa, "to_sid") == [[5]]


def test_broadcast_with_acks_gives_per_sid_results(cluster):
    a, b = cluster(2)
    (pa, sa), (pb, sb) = connected(a), connected(b)
    result = {}
    gevent.spawn(lambda: result.setdefault("r", a.call("q", 1, to=[sa, sb], timeout=2)))
    for peer, answer in ((pa, "A"), (pb, "B")):
        packet = peer.wait_packet(T.EVENT, event="q")
        peer.ack(packet.id, answer)
    pa.wait_for(lambda: "r" in result)
    assert result["r"].responses == {sa: "A", sb: "B"}


def test_broadcast_ack_timeout_names_the_remote_sid(cluster):
    a, b = cluster(2)
    (pa, sa), (pb, sb) = connected(a), connected(b)
    result = {}
    gevent.spawn(lambda: result.setdefault("r", a.call("q", None, to=[sa, sb], timeout=0.5)))
    packet = pa.wait_packet(T.EVENT, event="q")
    pa.ack(packet.id, "A")
    pb.wait_packet(T.EVENT, event="q")
    pa.wait_for(lambda: "r" in result)
    assert result["r"].responses == {sa: "A"}
    assert result["r"].timed_out == {sb}


def test_fetch_join_leave_disconnect_across_nodes(cluster):
    a, b = cluster(2)
    (_, sa), (pb, sb) = connected(a), connected(b)
    b.get_session(sb)["user"] = "bob"
    b.enter_room(sb, "room")
    sockets = {s.id: s for s in a.fetch_sockets()}
    assert set(sockets) == {sa, sb}
    assert set(sockets[sb].rooms) == {sb, "room"} and sockets[sb].data == {"user": "bob"}
    a.sockets_join("joined", to=sb)
    pb.wait_for(lambda: "joined" in b.rooms(sb))
    a.sockets_leave("room")
    pb.wait_for(lambda: "room" not in b.rooms(sb))
    a.disconnect_sockets(to=sb)
    pb.wait_for(lambda: pb.find(T.DISCONNECT))
    assert [s.id for s in a.fetch_sockets()] == [sa]


def test_server_side_emit_with_answers_from_every_other_node(cluster):
    a, b, c = cluster(3)
    for sio, name in ((b, "b"), (c, "c")):
        sio.on_server_event("ping", lambda x, name=name: f"{name}:{x}")
    answers = gevent.event.AsyncResult()
    a.server_side_emit("ping", 7, callback=answers.set)
    assert sorted(answers.get(timeout=3)) == ["b:7", "c:7"]


def test_bad_messages_are_dropped_and_counted(cluster):
    a, b = cluster(2)
    pa, sa = connected(a)
    bad = [
        b"\xc1",  # never-used msgpack byte
        b"{not json",
        wire.encode_json({"uid": "x", "nsp": "/", "type": 99}),
        wire.encode_json({"uid": "x", "nsp": "/", "type": int(MessageType.BROADCAST),
                          "data": {"packet": {"type": 0, "data": None}, "opts": {}}}),
        wire.encode_json({"uid": "x", "nsp": "/", "type": int(MessageType.BROADCAST),
                          "data": {"packet": {"type": 2, "data": ["e"], "nsp": "/"}, "opts": {"rooms": "r"}}}),
        wire.encode_msgpack(deep(40)),
        wire.encode_json({"uid": "x", "nsp": "/", "type": int(MessageType.BROADCAST),
                          "data": {"packet": {"type": 2, "data": ["ok"], "nsp": "/"}, "opts": {}}}),
    ]
    for payload in bad:
        try:
            a.manager.on_message(wire.decode(payload))
        except wire.WireError as exc:
            a.manager.drops.drop("undecodable", str(exc))
    assert got(pa, "ok") == [[]]
    assert a.manager.drops.total == 6


def test_heartbeat_forgets_a_silent_node_and_stops_waiting(make_server):
    bus = Bus()
    a, b = (make_server(client_manager=HeartbeatAdapter(bus, heartbeat_interval=0.1, heartbeat_timeout=0.5))
            for _ in range(2))
    gevent.sleep(0.3)
    assert a.manager.server_count() == 2
    b.manager.reader.kill()  # b hears nothing: it never answers
    b.manager._timers[0].kill()  # and sends no heartbeats
    answers = gevent.event.AsyncResult()
    a.server_side_emit("ping", callback=answers.set)
    assert answers.get(timeout=3) == []
    assert a.manager.server_count() == 1


def test_pending_requests_are_capped_and_time_out():
    from siothread.adapters.requests import PendingRequests, TooManyRequests
    from siothread.engine._runtime import RUNTIME

    pending = PendingRequests(RUNTIME, limit=2)
    first = pending.open("a", 1, 0.05, expected=1)
    pending.open("b", 1, 5.0, expected=1)
    with pytest.raises(TooManyRequests):
        pending.open("c", 1, 5.0, expected=1)
    assert first.result.get(timeout=1) == (False, [])  # timed out: the slot is free again
    pending.answer("b", ["x"])
    pending.answer({"$gt": 1}, ["y"])  # not a string id: ignored
    pending.open("c", 1, 5.0, expected=1)
    pending.cancel_all()
    assert len(pending) == 0


def test_close_room_empties_the_room_on_every_node(cluster):
    a, b = cluster(2)
    (_, sa), (pb, sb) = connected(a), connected(b)
    a.enter_room(sa, "x")
    b.enter_room(sb, "x")
    a.close_room("x")
    pb.wait_for(lambda: "x" not in b.rooms(sb))
    assert a.rooms(sa) == [sa]


def test_a_remote_broadcast_is_encoded_once_for_all_local_recipients(cluster):
    a, b = cluster(2)
    peers = [connected(b)[0] for _ in range(5)]
    before = b.eio.prepare_calls
    a.emit("many", 1)
    peers[-1].wait_for(lambda: all(got(p, "many") for p in peers))
    assert b.eio.prepare_calls - before == 1
