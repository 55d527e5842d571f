"""Any request may reach any worker: the real socket.io-client against gunicorn -w 2/-w 3 and
siothread.serve(workers=2), with every connection scattered across the workers."""
import json

import pytest

from tests.workers.conftest import http, run_client, sid_slot

pytestmark = pytest.mark.node

MODES = {
    "polling": {"transports": ["polling"], "freshConnections": True},
    "upgrade": {"transports": ["polling", "websocket"], "freshConnections": True},
    "websocket": {"transports": ["websocket"]},
}


def handoffs(cluster) -> int:
    """Hand-offs received, summed over every worker."""
    return sum(info["stats"]["received"] for info in cluster.wait_workers(cluster.workers).values())


@pytest.fixture(scope="module", params=["gunicorn", "serve"])
def two(request, cluster_factory):
    return cluster_factory(request.param, 2)


@pytest.mark.parametrize("mode", list(MODES))
def test_sessions_survive_requests_on_the_wrong_worker(two, mode):
    before = handoffs(two)
    r = run_client(two.url, clients=3, messages=15, **MODES[mode])
    for client in r["clients"]:
        assert client["inOrder"], client
        # one worker holds the session from the handshake to the end: the one named in its sid
        assert client["before"] == client["after"]
        assert client["before"]["slot"] == sid_slot(client["sid"])
        assert client["transport"] == ("polling" if mode == "polling" else "websocket")
    if mode != "websocket":
        # polling requests on fresh connections were scattered: some reached the other worker
        assert handoffs(two) > before


@pytest.fixture(scope="module")
def three(cluster_factory):
    return cluster_factory("gunicorn", 3)


def test_three_gunicorn_workers(three):
    r = run_client(three.url, clients=4, messages=10, **MODES["upgrade"])
    assert all(c["inOrder"] and c["before"] == c["after"] for c in r["clients"])
    slots = {info["slot"] for info in three.wait_workers(3).values()}
    assert slots == {0, 1, 2}
    assert handoffs(three) > 0


def test_unknown_sid_is_a_clear_400_on_every_worker(two):
    for sid in ("AAzzzzzzzzzzzzzzzzzzzz", "ABzzzzzzzzzzzzzzzzzzzz", "Bzzzzzzzzzzzzzzzzzzzzz", "nope", "A" * 300):
        for _ in range(4):  # the scatter alternates the receiving worker
            status, body = http(two.port, f"/socket.io/?EIO=4&transport=polling&sid={sid}")
            assert status == 400
            assert json.loads(body) == {"code": 1, "message": "Session ID unknown"}


@pytest.mark.parametrize("mode", ["websocket", "polling"])
def test_rooms_broadcasts_acks_and_server_side_emit_across_workers(two, mode):
    """The built-in adapter among the workers (Node's cluster-adapter semantics over Unix sockets)."""
    opts = {"transports": ["websocket"]} if mode == "websocket" else MODES["polling"]
    r = run_client(two.url, cluster=True, clients=6, **opts)
    ids, workers = r["ids"], r["workers"]
    assert len(set(workers)) == 2  # the scatter put the sessions on both workers
    assert r["news"] == ["hello all"] * len(ids)
    assert r["polled"] == {"responses": {sid: {"me": sid, "q": "who are you?"} for sid in ids}, "timed_out": []}
    assert r["counted"] == sorted(ids)
    assert r["servers"] == [pid for pid in set(workers) if pid != workers[0]]
    assert r["kicked"] == ["io server disconnect"] * len(ids)
