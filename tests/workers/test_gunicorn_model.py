"""gunicorn's process model with siothread's worker: --max-requests, the heartbeat, graceful stop."""
import json
import signal
import time

import gevent
import pytest

from tests.workers.conftest import Cluster, http
from tests.workers.test_faults import handshake, poll


def worker_pid(cluster) -> int:
    status, body = http(cluster.port, "/worker")
    assert status == 200
    return json.loads(body)["pid"]  # type: ignore[no-any-return]


def test_max_requests_counts_requests_outside_sessions():
    with Cluster("gunicorn", 1, extra=["--max-requests", "6", "--max-requests-jitter", "0"]) as one:
        _max_requests(one)


def _max_requests(one) -> None:
    first = worker_pid(one)  # 1
    sid = handshake(one.port)  # 2
    for _ in range(20):  # a session's requests do not count
        assert poll(one.port, sid) == (200, b"ok")
    assert worker_pid(one) == first  # 3
    pids = [worker_pid(one) for _ in range(3)]  # 4, 5, 6: the last one ends the worker
    assert pids == [first] * 3
    deadline = time.monotonic() + 20
    while True:  # the master starts a fresh worker
        try:
            pid = worker_pid(one)
        except OSError:
            pid = first
        if pid != first:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, body = poll(one.port, sid)  # the old worker ended its sessions on the way out
    assert status == 400


def test_heartbeat_keeps_an_idle_worker_alive():
    with Cluster("gunicorn", 1, extra=["--timeout", "2"], scatter=False) as quick:
        first = worker_pid(quick)
        time.sleep(4.5)  # twice the worker timeout without a request
        assert worker_pid(quick) == first


def test_sigterm_ends_sessions_gracefully(cluster_factory):
    with Cluster("gunicorn", 2, scatter=False) as c:
        sid = handshake(c.port)
        parked = gevent.spawn(http, c.port, f"/socket.io/?EIO=4&transport=polling&sid={sid}")
        gevent.sleep(0.3)  # the GET is parked at its worker
        c.proc.send_signal(signal.SIGTERM)
        status, body = parked.get(timeout=10)
        assert status == 200 and body.endswith(b"1")  # the CLOSE packet, not a cut connection
        assert c.proc.wait(timeout=15) == 0


@pytest.mark.parametrize("workers", [2])
def test_serve_workers_sigterm_exits_cleanly(workers):
    with Cluster("serve", workers, scatter=False) as c:
        pids = c.worker_pids()
        assert len(pids) == workers
        c.proc.send_signal(signal.SIGTERM)
        assert c.proc.wait(timeout=15) == 0
        assert c.worker_pids() == []
