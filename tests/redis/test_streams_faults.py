"""Redis Streams adapter under faults and floods: each test has its own siothread nodes (processes).

- a Redis blip (every connection killed) while entries are added: each entry delivered once, in order;
- Redis restarted between a disconnect and the reconnection: a clean new session, the cluster works again;
- Redis stalled (SIGSTOP): emits return within ``publish_timeout``, the cluster resumes;
- garbage stream entries and pub/sub messages: dropped, counted, the reader survives;
- bounds: a client flood cannot grow the stream past ``max_len``; sessions are capped and expire.
"""
import itertools
import json

import gevent
import pytest
import redis

from nodes import Recorder, wait_until
from test_streams_cluster import py_node
from test_streams_recovery import PyClient, board  # noqa: F401 - the board fixture

pytestmark = pytest.mark.node

_names = itertools.count()


@pytest.fixture
def stream():
    return f"faults-{next(_names)}"


@pytest.fixture
def started():
    made = []

    def start(url, **extra):
        node = py_node(url, **extra)
        made.append(node)
        return node

    yield start
    for node in made:
        node.close()


@pytest.fixture
def dropped(board):  # noqa: F811 - the imported fixture
    """``drop(node, name)``: a client connects to ``node`` through the board, receives one event, then
    loses its connection; returns the client (reconnecting) and its sid once ``node`` let the socket go."""
    made = []

    def drop(node, name):
        board.route(node.port)
        c = PyClient(board.url, name)
        made.append(c)
        sid = c.sid
        node.request("emit", event="tick", args=[0])
        wait_until(lambda: c.ticks == [0])
        board.route(None)
        wait_until(lambda: node.request("recovered", sid=sid) is None)
        return c, sid

    yield drop
    for c in made:
        c.close()


def ticks_in_stream(url, stream):
    """The ``tick`` arguments of the broadcasts in the stream, in stream order."""
    r = redis.Redis.from_url(url)
    try:
        out = []
        for _entry, fields in r.xrange(stream, "-", "+"):
            data = json.loads(fields[b"data"])
            if data["packet"]["data"][0] == "tick":
                out.append(data["packet"]["data"][1])
        return out
    finally:
        r.close()


@pytest.mark.parametrize("count,kills", [(300, 3), pytest.param(3000, 20, marks=pytest.mark.slow)])
def test_a_redis_blip_neither_loses_nor_repeats_entries(redis_server, started, stream, count, kills):
    # without recovery: the stream writes go through the publisher's queue (with recovery they wait
    # for their entry id, as every other test here does)
    sender = started(redis_server.url, stream_name=stream, recovery=None)
    receiver = started(redis_server.url, stream_name=stream, recovery=None)
    rec = Recorder(receiver.url, "blip")
    try:
        job = gevent.spawn(sender.request, "emit_many", event="tick", count=count, pause=0.002, timeout=120)
        for _ in range(kills):
            gevent.sleep(0.15)
            redis_server.cli("CLIENT", "KILL", "TYPE", "normal")
        job.get(timeout=120)
        stored = ticks_in_stream(redis_server.url, stream)
        assert len(stored) > count // 3
        wait_until(lambda: [a[0] for a in rec.got("tick")] == stored, timeout=30,
                   message="the receiver's events differ from the stream's")
        assert receiver.request("status")["connected"]
    finally:
        rec.close()


def test_redis_restarted_between_disconnect_and_reconnect(fresh_redis, started, stream, board, dropped):  # noqa: F811
    node_a = started(fresh_redis.url, stream_name=stream)
    node_b = started(fresh_redis.url, stream_name=stream)
    c, sid = dropped(node_a, "r")
    gevent.sleep(0.3)  # the session is in Redis
    fresh_redis.kill()
    fresh_redis.start()  # an empty Redis: sessions and the stream are gone
    for node in (node_a, node_b):
        wait_until(lambda node=node: node.request("status")["connected"], timeout=15,
                   message=f"a node never reconnected to the restarted Redis: {node.request('status')}")
    board.route(node_b.port)
    wait_until(lambda: c.client.connected and c.sid is not None, timeout=10)
    assert c.sid != sid and not c.client.recovered  # a clean new session
    assert node_b.request("rooms", sid=c.sid) == [c.sid]
    node_a.request("emit", event="tick", args=[2])  # the cluster works again
    wait_until(lambda: c.ticks == [0, 2])


def test_stalled_redis_bounds_emits_and_the_cluster_resumes(fresh_redis, started, stream):
    node_a = started(fresh_redis.url, stream_name=stream, publish_timeout=1, block_time=0.5)
    node_b = started(fresh_redis.url, stream_name=stream, publish_timeout=1, block_time=0.5)
    rec = Recorder(node_b.url, "s")
    try:
        fresh_redis.stall()
        try:
            with gevent.Timeout(8, AssertionError("an emit blocked past publish_timeout")):
                node_a.request("emit", event="tick", args=["stalled"], timeout=8)
                node_a.request("emit", event="tick", args=["stalled"], timeout=8)
        finally:
            fresh_redis.resume()
        assert node_a.request("status")["dropped_writes"] >= 1
        wait_until(lambda: node_a.request("status")["connected"] and node_b.request("status")["connected"],
                   timeout=15, message="the nodes never recovered from the stall")

        def delivered():
            node_a.request("emit", event="tick", args=["after"])
            return wait_until(lambda: ["after"] in rec.got("tick"), timeout=2)

        wait_until(delivered, timeout=15, message="no cross-node broadcast after the stall")
    finally:
        rec.close()


def test_garbage_is_dropped_counted_and_the_reader_survives(redis_server, started, stream):
    sender = started(redis_server.url, stream_name=stream)
    receiver = started(redis_server.url, stream_name=stream)
    rec = Recorder(receiver.url, "g")
    try:
        garbage = [
            ["uid", "x", "nsp", "/", "type", "3", "data", "!!not base64!!"],
            ["uid", "x", "nsp", "/", "type", "3", "data", "{not json"],
            ["uid", "x", "nsp", "/", "type", "99"],
            ["uid", "x", "nsp", "/", "type", "3", "data", '{"packet": {"type": 2, "data": [42]}}'],
            ["uid", "x", "nsp", "/", "type", "3", "data", "3q2+7w=="],  # base64 of bytes that are not msgpack
            ["uid", "x" * 500, "nsp", "/", "type", "2"],
            ["something", "else"],
        ]
        for fields in garbage:
            redis_server.cli("XADD", stream, "*", *fields)
        redis_server.cli("PUBLISH", "socket.io#/#", "\x81\xa3uid")  # truncated msgpack on the channel
        sender.request("emit", event="tick", args=["fine"])
        wait_until(lambda: rec.got("tick") == [["fine"]], message="the reader did not survive the garbage")
        status = receiver.request("status")
        assert status["dropped_invalid"] >= len(garbage)
        assert status["connected"]
    finally:
        rec.close()


def test_recovery_fails_cleanly_when_missed_entries_were_trimmed(redis_server, started, stream, board,  # noqa: F811
                                                                 dropped):
    node = started(redis_server.url, stream_name=stream, max_len=20)
    other = started(redis_server.url, stream_name=stream, max_len=20)
    c, sid = dropped(node, "t")
    other.request("emit_many", event="tick", count=400)  # far past max_len: the client's entries are gone
    board.route(node.port)
    wait_until(lambda: c.client.connected and c.sid is not None and c.sid != sid, timeout=10,
               message="a session whose missed events were trimmed was restored")
    assert not c.client.recovered and c.ticks == [0]


def test_a_client_flood_cannot_grow_the_stream_past_its_cap(redis_server, started, stream):
    node = started(redis_server.url, stream_name=stream, max_len=200)
    flooder = PyClient(node.url, "flood")
    try:
        for i in range(1500):
            flooder.client.emit("shout", i)
        r = redis.Redis.from_url(redis_server.url)
        try:
            wait_until(lambda: r.exists(stream) and r.xinfo_stream(stream)["entries-added"] >= 1000, timeout=30,
                       message="the flood never reached the stream")
        finally:
            r.close()
        # MAXLEN ~ trims whole macro nodes (stream-node-max-entries, 100 by default)
        assert int(redis_server.cli("XLEN", stream)) <= 200 + 100
    finally:
        flooder.close()


def test_sessions_are_capped_and_expire(redis_server, started, stream, board):  # noqa: F811
    prefix = f"sio:{stream}:"
    node = started(redis_server.url, stream_name=stream, session_key_prefix=prefix,
                   recovery={"max_disconnection_duration": 20, "max_sessions": 3})
    board.route(node.port)
    made = [PyClient(board.url, f"c{i}") for i in range(6)]
    try:
        for c in made:
            c.client.reconnection = False
        board.route(None)
        wait_until(lambda: node.request("fetch", local=True) == [])
        wait_until(lambda: int(redis_server.cli("ZCARD", prefix + "#index")) == 3)
        keys = [k for k in redis_server.cli("KEYS", prefix + "*").split() if not k.endswith("#index")]
        assert len(keys) == 3
        for key in keys:
            assert 0 < int(redis_server.cli("PTTL", key)) <= 20_000
    finally:
        for c in made:
            c.close()
