"""Redis faults and hostile broker messages (security rows A1-A5, X3).

Two siothread nodes in their own processes share a redis-server that the test
kills, restarts or stalls (SIGSTOP). The outage policy under test
(``docs/scaling.md``): each node keeps serving its own clients, cross-node
messages published during the outage are dropped and counted in
``manager.status()``, subscriptions come back with Redis.
"""
import pickle
import time

import pytest
import redis

from nodes import NodeProcess, Recorder, wait_until
from siothread.adapters import wire

FAST = {"publish_timeout": 1.0, "requests_timeout": 2.0}


@pytest.fixture
def pair(fresh_redis):
    nodes = []
    recs = []

    def make(count=2):
        for _ in range(count):
            nodes.append(NodeProcess("py", {"url": fresh_redis.url, **FAST}))
        return nodes

    def client(node, name):
        rec = Recorder(node.url, name)
        recs.append(rec)
        return rec

    yield make, client
    for rec in recs:
        rec.close()
    fresh_redis.resume() if fresh_redis.proc is not None else None
    for node in nodes:
        node.close()


def cross_node_works(a_node, b_rec, tag):
    """A broadcast from ``a_node`` reaches ``b_rec`` (retried: the first ones may fall in the outage)."""
    def attempt():
        a_node.request("emit", event=tag, args=[1])
        time.sleep(0.1)
        return b_rec.got(tag)
    wait_until(attempt, timeout=15, message=f"{tag}: cross-node broadcast never arrived")


def test_a1_redis_down_at_start_serves_locally_then_joins(fresh_redis, pair):
    make, client = pair
    fresh_redis.kill()
    a, b = make()
    ra, rb = client(a, "a"), client(b, "b")
    status = a.request("status")
    assert not status["connected"] and status["degraded_since"] is not None
    a.request("emit", event="local", args=[1])  # local clients still get broadcasts
    wait_until(lambda: ra.got("local"))
    assert a.request("fetch") and len(a.request("fetch")) == 1  # only its own sockets, no hang
    assert a.request("status")["dropped_publish"] >= 1
    fresh_redis.start()
    wait_until(lambda: a.request("status")["connected"] and b.request("status")["connected"], timeout=15)
    cross_node_works(a, rb, "after_start")
    assert a.request("status")["degraded_since"] is None


@pytest.mark.parametrize("outage", [pytest.param(20.0, marks=pytest.mark.slow), 1.5], ids=["20s", "short"])
def test_a2_x3_redis_killed_under_traffic_and_restarted(fresh_redis, pair, outage):
    make, client = pair
    a, b = make()
    ra, rb = client(a, "a"), client(b, "b")
    wait_until(lambda: a.request("count") == 2)
    cross_node_works(a, rb, "before")
    fresh_redis.kill()
    deadline = time.monotonic() + outage
    sent = 0
    while time.monotonic() < deadline:  # traffic during the outage: never blocks, local delivery goes on
        started = time.monotonic()
        a.request("emit", event="during", args=[sent])
        assert time.monotonic() - started < 1.0
        sent += 1
        time.sleep(0.05)
    wait_until(lambda: len(ra.got("during")) == sent)
    status = a.request("status")
    assert not status["connected"] and status["dropped_publish"] >= 1
    fresh_redis.start()
    wait_until(lambda: a.request("status")["connected"] and b.request("status")["connected"], timeout=20,
               message=str((a.request("status"), b.request("status"))))
    cross_node_works(a, rb, "after")
    cross_node_works(b, ra, "after_back")  # both subscriptions restored
    assert len(rb.got("during")) < sent  # the documented policy: dropped, not replayed later
    assert b.request("count") == 2


def test_a3_stalled_redis_bounds_publishes_and_requests(fresh_redis, pair):
    make, client = pair
    a, b = make()
    ra, rb = client(a, "a"), client(b, "b")
    wait_until(lambda: a.request("count") == 2)
    fresh_redis.stall()
    try:
        started = time.monotonic()
        a.request("emit", event="stalled", args=[1])
        assert ra.client.call("join", "room", timeout=5) == "ok"  # handlers never wait on Redis
        wait_until(lambda: ra.got("stalled"))
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        sockets = a.request("fetch", timeout=20)  # the server count cannot be read: local answer
        assert [s["id"] for s in sockets] == [ra.sid]
        assert time.monotonic() - started < 2 * FAST["publish_timeout"] + 1
        wait_until(lambda: not a.request("status")["connected"], timeout=10)
    finally:
        fresh_redis.resume()
    wait_until(lambda: a.request("status")["connected"], timeout=20)
    cross_node_works(a, rb, "after_stall")


def test_x3_shutdown_while_redis_is_down_does_not_hang(fresh_redis, pair):
    make, client = pair
    (a,) = make(1)
    client(a, "a")
    fresh_redis.kill()
    wait_until(lambda: not a.request("status")["connected"], timeout=10)
    started = time.monotonic()
    a.close()
    assert a.proc.returncode is not None and time.monotonic() - started < 6


def test_a4_a5_hostile_messages_are_dropped_counted_and_the_listener_survives(fresh_redis, pair):
    make, client = pair
    (a,) = make(1)
    ra = client(a, "a")

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    bad = [
        ("socket.io#/#", pickle.dumps(Evil())),  # python-socketio's format: never unpickled
        ("socket.io#/#", b"\xc1\xc1"),
        ("socket.io#/#", wire.encode_msgpack(["x", {"type": 2, "data": "no list", "nsp": "/"}, {}])),
        ("socket.io#/#", wire.encode_msgpack(["x", {"type": 2, "data": ["e"], "nsp": "/"}, {"rooms": 5}])),
        ("socket.io#/#", b"\x91" * 200 + b"\x01"),  # nested 200 deep
        ("socket.io#/#", b"\xdd\xff\xff\xff\xff"),  # claims 4 billion elements
        ("socket.io#/#", b"x" * 1_100_000),  # over the size cap
        ("socket.io-request#/#", b'{"type": 5, "requestId": 7, "uid": "x"}'),
        ("socket.io-request#/#", b'{"type": 77, "uid": "x"}'),
        ("socket.io-request#/#", b"[1,2"),
        ("socket.io-response#/#", b'{"requestId": {"$gt": 1}}'),  # an unknown id is ignored, not dropped
    ]
    client_ = redis.Redis.from_url(fresh_redis.url)
    try:
        for channel, payload in bad:
            client_.publish(channel, payload)
        client_.publish("socket.io#/#", wire.encode_msgpack(
            ["other", {"type": 2, "data": ["fine", 1], "nsp": "/"}, {"rooms": [], "except": []}]))
    finally:
        client_.close()
    wait_until(lambda: ra.got("fine"))
    status = a.request("status")
    assert status["dropped_invalid"] == len(bad) - 1
    assert status["connected"]
