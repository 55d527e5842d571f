"""Faults of a multi-process server: a worker SIGKILLed, restarted, a graceful reload under
traffic, and a flood of hand-offs."""
import json
import os
import signal
import subprocess
import time

import gevent
import gevent.pool
import pytest

from tests.conftest import require_node_modules
from tests.workers.conftest import http, run_client, sid_slot

pytestmark = pytest.mark.node


def handshake(port: int) -> str:
    status, body = http(port, "/socket.io/?EIO=4&transport=polling")
    assert status == 200, body
    return json.loads(body[1:])["sid"]  # type: ignore[no-any-return]


def poll(port: int, sid: str, packet: bytes = b"6") -> tuple:
    """A POST of one packet (NOOP by default) for ``sid`` on a fresh connection."""
    return http(port, f"/socket.io/?EIO=4&transport=polling&sid={sid}", "POST", packet)


def sessions_by_slot(port: int, per_slot: int, slots: int) -> dict:
    found: dict = {}
    for _ in range(400):
        sid = handshake(port)
        found.setdefault(sid_slot(sid), []).append(sid)
        if len(found) >= slots and all(len(v) >= per_slot for v in found.values()):
            return found
    raise AssertionError(f"handshakes never reached {slots} workers: {found}")


class Traffic:
    """tests/js/workers_client.js in traffic mode, in the background."""

    def __init__(self, url: str, **opts) -> None:
        js = require_node_modules()
        self.proc = subprocess.Popen(["node", str(js / "workers_client.js"), url, json.dumps(opts)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(js))
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line, self.proc.stderr.read()  # type: ignore[union-attr]
        self.ready = json.loads(line)
        assert self.ready.get("ready"), self.ready

    def result(self) -> dict:
        out, err = self.proc.communicate(timeout=60)
        lines = [line for line in out.splitlines() if line.strip()]
        assert self.proc.returncode == 0 and lines, (out, err)
        return json.loads(lines[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["gunicorn", "serve"])
def cluster(request, cluster_factory):
    return cluster_factory(request.param, 2)


def test_sigkill_ends_its_sessions_only_and_answers_400_at_once(cluster):
    workers = cluster.wait_workers(2)
    traffic = Traffic(cluster.url, clients=4, duration=3000, interval=20, transports=["websocket"])
    victim = traffic.ready["workers"][0]
    victim_slot = workers[victim]["slot"]
    sids = sessions_by_slot(cluster.port, 1, 2)
    dead_sid = sids[victim_slot][0]
    live_sid = next(v[0] for slot, v in sids.items() if slot != victim_slot)

    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    for _ in range(4):  # both the survivor and (soon) its replacement answer at once
        started = time.monotonic()
        status, body = poll(cluster.port, dead_sid)
        assert (status, json.loads(body)) == (400, {"code": 1, "message": "Session ID unknown"})
        assert time.monotonic() - started < 2.0
    assert poll(cluster.port, live_sid) == (200, b"ok")  # the other worker's sessions go on

    result = traffic.result()["clients"]
    for i, seen in enumerate(result):
        assert seen["acked"] > 0, seen
        if traffic.ready["workers"][i] == victim:
            assert seen["connects"] >= 2 and seen["reasons"][0] in ("transport close", "transport error"), seen
            assert seen["workers"][-1] != victim
        else:  # nobody else noticed
            assert seen == dict(seen, connects=1, failed=0, reasons=["io client disconnect"]), seen
    # the master replaced the dead worker
    assert victim not in cluster.wait_workers(2)
    # the survivors' adapters do not wait for the dead worker's answers (fetch_sockets, acks)
    r = run_client(cluster.url, cluster=True, clients=4, transports=["websocket"])
    assert r["counted"] == sorted(r["ids"]) and r["polled"]["timed_out"] == []


def test_graceful_reload_under_traffic(cluster):
    old = set(cluster.wait_workers(2))
    # long enough for a second reconnection: a fresh connection made while the reload runs can
    # still land on an old worker that is about to stop, and the client's backoff then waits 1-2 s
    traffic = Traffic(cluster.url, clients=4, duration=6000, interval=20,
                      transports=["polling", "websocket"], freshConnections=True)
    time.sleep(0.5)
    cluster.proc.send_signal(signal.SIGHUP)
    result = traffic.result()["clients"]
    for seen in result:
        # every session ended with the old workers and came back on a new one
        assert seen["connects"] >= 2, seen
        assert seen["reasons"][0] == "transport close", seen
        assert seen["workers"][-1] not in old, (seen, old)
        # an echo in flight when its session ended gets no ack (at most one per client)
        assert seen["acked"] > 10 and seen["failed"] <= 1, seen
    deadline = time.monotonic() + 15
    while set(cluster.worker_pids()) & old:
        assert time.monotonic() < deadline, "old workers still running"
        time.sleep(0.1)
    assert not set(cluster.wait_workers(2)) & old


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_handoff_flood_stays_bounded(cluster):
    pids = list(cluster.wait_workers(2))
    sids = [sid for group in sessions_by_slot(cluster.port, 50, 2).values() for sid in group]
    base_fds = {pid: _fds(pid) for pid in pids}
    base_rss = {pid: _rss_kb(pid) for pid in pids}
    peak = dict(base_fds)
    before = sum(info["stats"]["received"] for info in cluster.wait_workers(2).values())

    def sample() -> None:
        while True:
            for pid in pids:
                peak[pid] = max(peak[pid], _fds(pid))
            gevent.sleep(0.01)

    sampler = gevent.spawn(sample)
    pool = gevent.pool.Pool(100)
    results = pool.map(lambda sid: poll(cluster.port, sid), sids * 5)
    sampler.kill()
    assert all(r == (200, b"ok") for r in results)
    received = sum(info["stats"]["received"] for info in cluster.wait_workers(2).values()) - before
    assert received >= len(results) // 4  # the scatter sent a good part to the wrong worker
    for pid in pids:
        # at most: the 100 client connections, their hand-off channels, and a few
        assert peak[pid] - base_fds[pid] < 2 * 100 + 20, (peak, base_fds)
        assert _rss_kb(pid) - base_rss[pid] < 50_000
    deadline = time.monotonic() + 10
    while any(_fds(pid) > base_fds[pid] + 2 for pid in pids):
        assert time.monotonic() < deadline, ({pid: _fds(pid) for pid in pids}, base_fds)
        time.sleep(0.1)
