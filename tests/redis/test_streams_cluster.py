"""A Redis Streams cluster: two siothread nodes and a Node node with @socket.io/redis-streams-adapter 0.3.

Every cluster operation is started once from a siothread node and once from the
Node node and must reach the clients of every node; then connection-state
recovery across nodes, with the real socket.io-client 4.8 and siothread.Client.
"""
import json

import pytest

from nodes import Clients, NodeProcess, start_nodes, wait_until
from tests.conftest import require_node_modules

pytestmark = pytest.mark.node

STREAM = "sio-test"
RECOVERY_S = 30


def py_node(url, **extra):
    return NodeProcess("py", py_spec(url, **extra)[1])


def py_spec(url, **extra):
    return ("py", {"url": url, "kind": "streams", "stream_name": STREAM, "requests_timeout": 3,
                   "recovery": {"max_disconnection_duration": RECOVERY_S}, **extra})


def js_spec(url):
    return ("js", {"url": url, "kind": "streams", "streams": {"streamName": STREAM}, "recovery": RECOVERY_S * 1000})


@pytest.fixture(scope="module")
def cluster(redis_server):
    require_node_modules()
    nodes = start_nodes([py_spec(redis_server.url), py_spec(redis_server.url), js_spec(redis_server.url)])
    yield nodes
    for node in nodes:
        node.close()


@pytest.fixture
def clients(cluster):
    made = Clients(cluster)
    yield made
    made.close()


def plain(args):
    """Event arguments without the offset recovery appends (socket.io-client leaves it in place)."""
    return args[:-1] if args and isinstance(args[-1], str) and "-" in args[-1] else args


@pytest.mark.parametrize("sender", [0, 2], ids=["from_siothread", "from_node"])
def test_broadcasts_rooms_and_socket_management(cluster, clients, sender):
    py1, py2, js = cluster
    a, b, c = clients(py1, "a"), clients(py2, "b"), clients(js, "c")
    node = cluster[sender]
    for rec, room in ((a, "red"), (c, "red"), (b, "muted")):
        assert rec.client.call("join", room, timeout=5) == "ok"
    node.request("emit", event="all", args=[1])
    node.request("emit", event="reds", to="red", args=["r"])
    node.request("emit", event="unmuted", **{"except": "muted"})
    for rec in (a, b, c):
        wait_until(lambda rec=rec: rec.got("all") == [[1]], message=f"{rec.name} missed the broadcast")
    for rec in (a, c):
        wait_until(lambda rec=rec: rec.got("reds") == [["r"]] and rec.got("unmuted") == [[]])
    assert b.got("reds") == [] and b.got("unmuted") == []

    # broadcast with acks: every client of every node answers
    result = node.request("call", event="ask", timeout=3)
    assert result["values"] == sorted(json.dumps(f"ack:{n}") for n in "abc")

    # fetch_sockets, remote emit, sockets_join/leave, server-side emit with acks
    fetched = node.request("fetch")
    assert sorted(s["data"]["name"] for s in fetched) == ["a", "b", "c"]
    assert node.request("remote_emit", sid=b.sid, event="direct", args=["hi"])
    wait_until(lambda: b.got("direct") == [["hi"]])
    node.request("join", to="muted", rooms=["blue"])
    wait_until(lambda: "blue" in py2.request("rooms", sid=b.sid))
    node.request("emit", event="blues", to="blue")
    wait_until(lambda: b.got("blues") == [[]])
    node.request("leave", rooms=["blue"])
    wait_until(lambda: "blue" not in py2.request("rooms", sid=b.sid))
    answers = node.request("sse", event="ping", args=["x"], ack=True)
    assert len(answers) == 2
    node.request("disconnect", to="muted")
    wait_until(lambda: not b.client.connected, message="disconnect_sockets did not reach the other node")
