"""L1 (churn) and L2 (idle heartbeats), issue item 4, against a server in its own process.

L1: sessions opened and closed, half gracefully and half by TCP reset
(SO_LINGER 0), over both transports; afterwards the server holds zero
sessions, its greenlet and fd counts are back at baseline, and the disconnect
handler ran exactly once per connect. L2: idle WebSocket sessions keep their
heartbeats (every client sees its pings on time; none is closed).

CI runs 1,000 sessions each; ``--run-slow`` runs the plan's 10,000 (the
server is a separate process, so 10k client sockets and 10k server sockets
fit the 20,000 fd limit of each process). The slow variants need a longer
per-test timeout: ``SIOTHREAD_TEST_TIMEOUT=900``.
"""
from __future__ import annotations

import time
from typing import Iterator

import gevent
import gevent.pool
import pytest

from tests.conftest import free_port
from robust_helpers import (
    FrameReader, connect, frame, percentile, read_response, read_response_head, reset, ws_request,
)
from server_process import ServerProcess


@pytest.fixture
def server_process() -> Iterator:
    started = []

    def start(options: dict, extra=None) -> ServerProcess:
        p = ServerProcess(free_port(), options, extra)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def ws_session(p: ServerProcess):
    s = connect(p.port, timeout=30)
    s.sendall(ws_request(p.target("websocket"), p.port))
    status, _, rest = read_response_head(s)
    assert status == 101
    reader = FrameReader(s, rest)
    op, payload = reader.next()
    assert payload.startswith(b"0{")
    return s, reader


def one_session(p: ServerProcess, i: int) -> None:
    graceful = i % 2 == 0
    if i % 4 < 2:  # WebSocket
        s, reader = ws_session(p)
        s.sendall(frame(1, b"4hello"))
        assert reader.next()[1] == b"4hello"
        if graceful:
            s.sendall(frame(8, b"\x03\xe8"))
            reader.until_close()
            s.close()
        else:
            reset(s)
        return
    # long-polling: the handshake, a round trip, then a parked GET that ends in a close or a reset
    import json

    with connect(p.port, timeout=30) as s:
        s.sendall(f"GET {p.target()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, _, body = read_response(s)
        assert status == 200
        sid = json.loads(body[1:])["sid"]
    g = connect(p.port, timeout=30)
    g.sendall(f"GET {p.target(sid=sid)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    gevent.sleep(0.01)
    if graceful:
        with connect(p.port, timeout=30) as s:
            s.sendall(f"POST {p.target(sid=sid)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1".encode())
            assert read_response(s)[0] == 200
        assert read_response(g)[0] == 200
        g.close()
    else:
        reset(g)  # the server only learns at the ping timeout: the session must still end


def churn(server_process, total: int) -> None:
    p = server_process({"ping_interval": 1, "ping_timeout": 1})
    pool = gevent.pool.Pool(100)
    for i in range(40):  # warm-up
        pool.spawn(one_session, p, i)
    pool.join(raise_error=True)
    base = p.wait_stats(lambda st: st["sessions"] == 0)
    t0 = time.monotonic()
    for i in range(total):
        pool.spawn(one_session, p, i)
    pool.join(raise_error=True)
    elapsed = time.monotonic() - t0
    st = p.wait_stats(lambda st: st["sessions"] == 0 and st["greenlets"] <= base["greenlets"] + 2
                      and st["fds"] <= base["fds"] + 2, timeout=30)
    assert st["counts"]["connects"] == st["counts"]["disconnects"] == total + 40
    print(f"churn: {total} sessions in {elapsed:.1f} s; reasons {st['reasons']}")


def test_l1_churn_1k_sessions_half_reset_leaves_nothing(server_process):
    churn(server_process, 1_000)


@pytest.mark.slow
def test_l1_churn_10k_sessions_half_reset_leaves_nothing(server_process):
    churn(server_process, 10_000)


def idle_heartbeats(server_process, n: int, interval: float, duration: float) -> None:
    p = server_process({"ping_interval": interval, "ping_timeout": max(1.0, interval)})
    arrivals: list = [[] for _ in range(n)]
    socks: list = []
    stop = gevent.event.Event()

    def client(k: int) -> None:
        s, reader = ws_session(p)  # each client answers its pings from the moment it is open
        socks.append(s)
        s.settimeout(interval + 5)
        while not stop.is_set():
            item = reader.next()
            if item is None:
                return
            if item[1] == b"2":
                arrivals[k].append(time.monotonic())
                s.sendall(frame(1, b"3"))

    tasks = []
    for k in range(n):
        tasks.append(gevent.spawn(client, k))
        if k % 100 == 99:
            gevent.sleep(0.2)  # do not overflow the listen backlog
    p.wait_stats(lambda st: st["sessions"] == n)
    gevent.sleep(duration)
    stop.set()
    st = p.stats()
    assert st["sessions"] == n, st
    assert "ping timeout" not in st["reasons"]
    gaps = [b - a - interval for times in arrivals for a, b in zip(times, times[1:])]
    expected = int(duration / interval) - 2
    assert min(len(t) for t in arrivals) >= expected
    jitter = percentile([abs(g) for g in gaps], 0.99)
    print(f"{n} idle sessions: ping jitter p99 {jitter * 1e3:.1f} ms (measured by the clients)")
    assert jitter < 1.0
    gevent.killall(tasks, timeout=10)
    for sock in socks:
        reset(sock)
    p.wait_stats(lambda st: st["sessions"] == 0, timeout=interval * 3 + 10)


def test_l2_1k_idle_sessions_keep_their_heartbeats(server_process):
    idle_heartbeats(server_process, 1_000, interval=0.5, duration=4)


@pytest.mark.slow
def test_l2_10k_idle_sessions_keep_their_heartbeats(server_process):
    idle_heartbeats(server_process, 10_000, interval=5, duration=60)
