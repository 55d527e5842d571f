"""ShardedRedisManager (SPUBLISH/SSUBSCRIBE) with Node's createShardedAdapter, on Redis 7 and a Redis Cluster."""
import json

import pytest

from nodes import Clients, start_nodes, wait_until
from tests.conftest import require_node_modules

pytestmark = pytest.mark.node


@pytest.fixture(scope="module", params=["standalone", "cluster"])
def sharded(request, redis_server):
    require_node_modules()
    if request.param == "cluster":
        target = request.getfixturevalue("redis_cluster")
        py = {"url": target.url, "kind": "sharded", "cluster": True, "requests_timeout": 3}
        js = {"url": target.url, "kind": "sharded", "cluster": True}
    else:
        py = {"url": redis_server.url, "kind": "sharded", "requests_timeout": 3}
        js = {"url": redis_server.url, "kind": "sharded"}
    nodes = start_nodes([("py", py), ("py", py), ("js", js)])
    yield nodes
    for node in nodes:
        node.close()


@pytest.fixture
def clients(sharded):
    made = Clients(sharded)
    yield made
    made.close()


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_sharded_broadcasts_rooms_acks_and_fetch(sharded, clients, sender):
    py1, py2, js = sharded
    a, b, c = clients(py1, "a"), clients(py2, "b"), clients(js, "c")
    for rec in (a, c):
        assert rec.client.call("join", "red") == "ok"
    node = sharded[sender]
    node.request("emit", event="all", args=[1])
    node.request("emit", event="red", args=[2], to="red")  # a dynamic room channel
    node.request("emit", event="one", args=[3], to=b.sid)
    node.request("emit", event="bin", args=[{"b": "x"}], **{"except": "red"})
    wait_until(lambda: a.got("red") and c.got("red") and b.got("one") and b.got("bin"))
    assert [r.got("all") for r in (a, b, c)] == [[[1]]] * 3
    assert b.got("red") == [] and a.got("one") == [] and a.got("bin") == []
    result = node.request("call", event="ask", args=[], timeout=3)
    assert result["values"] == sorted(json.dumps(f"ack:{n}") for n in "abc")
    sockets = node.request("fetch")
    assert sorted(s["id"] for s in sockets) == sorted([a.sid, b.sid, c.sid])
    node.request("join", rooms=["joined"], to=c.sid)
    wait_until(lambda: "joined" in js.request("rooms", sid=c.sid))
    node.request("disconnect", to=b.sid)
    wait_until(lambda: sorted(s["id"] for s in node.request("fetch")) == sorted([a.sid, c.sid]))


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_sharded_server_side_emit(sharded, sender):
    answers = sharded[sender].request("sse", event="ping", args=[sender], ack=True)
    expected = {0: ["py:0", "node:0"], 2: ["py:2", "py:2"]}[sender]
    assert answers == sorted(json.dumps(v) for v in expected)
