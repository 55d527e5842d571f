"""A Redis cluster of two siothread nodes and one Node socket.io node (@socket.io/redis-adapter 8.x).

Every operation is started once from a siothread node and once from the Node
node, and must reach the clients of every node; ``@socket.io/redis-emitter``
and ``RedisEmitter`` reach both kinds of node too.
"""
import json
import subprocess

import pytest

import siothread
from nodes import Clients, start_nodes, wait_until
from tests.conftest import JS_DIR, require_node_modules

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def cluster(redis_server):
    require_node_modules()
    py = {"url": redis_server.url, "requests_timeout": 3}
    nodes = start_nodes([("py", py), ("py", py), ("js", {"url": redis_server.url})])
    yield nodes
    for node in nodes:
        node.close()


@pytest.fixture
def clients(cluster):
    made = Clients(cluster)
    yield made
    made.close()


def three(cluster, clients):
    py1, py2, js = cluster
    return clients(py1, "a"), clients(py2, "b"), clients(js, "c")


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_broadcasts_rooms_and_exclusions(cluster, clients, sender):
    a, b, c = three(cluster, clients)
    node = cluster[sender]
    for rec, room in ((a, "red"), (c, "red"), (b, "muted")):
        assert rec.client.call("join", room) == "ok"
    node.request("emit", event="all", args=[1, {"x": [True, None]}])
    node.request("emit", event="red", args=[2], to="red")
    node.request("emit", event="not_muted", args=[3], **{"except": "muted"})
    node.request("emit", event="to_sid", args=[4], to=b.sid)
    node.request("emit", event="volatile", args=[5], volatile=True)  # may be dropped, never doubled
    node.request("emit", event="done", args=[6])
    wait_until(lambda: all(r.got("done") for r in (a, b, c)), message=str([r.events for r in (a, b, c)]))
    assert all(r.got("volatile") in ([], [[5]]) for r in (a, b, c))
    assert [r.got("all") for r in (a, b, c)] == [[[1, {"x": [True, None]}]]] * 3
    assert [r.got("red") for r in (a, b, c)] == [[[2]], [], [[2]]]
    assert [r.got("not_muted") for r in (a, b, c)] == [[[3]], [], [[3]]]
    assert [r.got("to_sid") for r in (a, b, c)] == [[], [[4]], []]


def test_local_flag_stays_on_its_node(cluster, clients):
    a, b, c = three(cluster, clients)
    cluster[0].request("emit", event="local", args=[1], local=True)
    cluster[0].request("emit", event="after", args=[2])
    wait_until(lambda: all(r.got("after") for r in (a, b, c)))
    assert [len(r.got("local")) for r in (a, b, c)] == [1, 0, 0]


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_broadcast_with_acks(cluster, clients, sender):
    a, b, c = three(cluster, clients)
    result = cluster[sender].request("call", event="ask", args=[], timeout=3)
    assert result["values"] == sorted(json.dumps(f"ack:{n}") for n in "abc")
    if sender == 0:  # siothread answers per sid, Node's acks are counted under synthetic keys
        assert result["responses"][a.sid] == "ack:a" and result["responses"][b.sid] == "ack:b"
        assert result["timed_out"] == []


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_fetch_sockets_and_remote_socket_operations(cluster, clients, sender):
    a, b, c = three(cluster, clients)
    node = cluster[sender]
    sockets = node.request("fetch")
    assert sorted(s["id"] for s in sockets) == sorted([a.sid, b.sid, c.sid])
    by_id = {s["id"]: s for s in sockets}
    assert by_id[b.sid]["data"] == {"name": "b"} and by_id[c.sid]["data"] == {"name": "c"}
    assert by_id[c.sid]["rooms"] == [c.sid]
    for rec in (b, c):
        assert node.request("remote_emit", sid=rec.sid, event="direct", args=[rec.name])
    wait_until(lambda: b.got("direct") and c.got("direct"))
    node.request("join", rooms=["joined"], to=[b.sid, c.sid])
    wait_until(lambda: "joined" in cluster[1].request("rooms", sid=b.sid)
               and "joined" in cluster[2].request("rooms", sid=c.sid))
    node.request("leave", rooms=["joined"])
    wait_until(lambda: "joined" not in cluster[2].request("rooms", sid=c.sid))
    node.request("disconnect", to=[b.sid, c.sid])
    wait_until(lambda: [s["id"] for s in node.request("fetch")] == [a.sid])


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_server_side_emit_with_acks(cluster, sender):
    answers = cluster[sender].request("sse", event="ping", args=[sender], ack=True)
    expected = {0: ["py:0", "node:0"], 2: ["py:2", "py:2"]}[sender]
    assert answers == sorted(json.dumps(v) for v in expected)
    word = f"noack{sender}"
    cluster[sender].request("sse", event="ping", args=[word])
    for i, node in enumerate(cluster):
        if i != sender:
            wait_until(lambda node=node: word in node.request("heard"))
    assert word not in cluster[sender].request("heard")


def test_emitters_reach_both_kinds_of_node(cluster, clients, redis_server):
    a, b, c = three(cluster, clients)
    for rec in (b, c):
        assert rec.client.call("join", "news") == "ok"
    emitter = siothread.RedisEmitter(redis_server.url)
    try:
        emitter.to("news").emit("from_py", 1, b"\x00\x01")
        emitter.except_("news").emit("not_news", 2)
        emitter.server_side_emit("ping", "emitter")
        wait_until(lambda: b.got("from_py") and c.got("from_py") and a.got("not_news"))
        assert b.got("from_py") == [[1, b"\x00\x01"]] and c.got("from_py") == [[1, b"\x00\x01"]]
        assert a.got("from_py") == [] and b.got("not_news") == [] and c.got("not_news") == []
        emitter.sockets_join("via_emitter")
        wait_until(lambda: "via_emitter" in cluster[2].request("rooms", sid=c.sid)
                   and "via_emitter" in cluster[0].request("rooms", sid=a.sid))
        for node in cluster:
            wait_until(lambda node=node: "emitter" in node.request("heard"))
    finally:
        emitter.close()
    # python-socketio's spelling
    manager = siothread.RedisManager(redis_server.url, write_only=True)
    manager.emit("write_only", {"k": 1}, room=a.sid)
    manager.close()
    js = subprocess.run(
        ["node", "-e", EMITTER_JS, redis_server.url], cwd=JS_DIR, capture_output=True, text=True, timeout=20)
    assert js.returncode == 0, js.stderr
    wait_until(lambda: a.got("write_only") and all(r.got("from_node_emitter") for r in (a, b, c)))
    assert a.got("from_node_emitter") == [["hi", {"n": 1}]]


EMITTER_JS = """
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");
(async () => {
  const client = createClient({ url: process.argv[1] });
  await client.connect();
  new Emitter(client).emit("from_node_emitter", "hi", { n: 1 });
  await client.quit();
})();
"""
