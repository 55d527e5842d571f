"""E12 and issue item 3: a client that answers pings but never reads (gap G10).

The server sends it 1 KB messages far faster than it reads (its receive
buffer is 4 KB and it never calls ``recv``); it keeps sending ``3`` blindly so
the heartbeat never ends it. Expected: the outbound backlog never exceeds the
bounded queue; the overflow policy applies (``disconnect``: the session closes
with "slow consumer"; ``drop``: packets are dropped, the session stays); the
application hears about it through the ``overflow`` event; server memory does
not grow with what was sent; healthy clients on the same process keep their
round-trip latency (p99 compared with generous bounds).
"""
from __future__ import annotations

import time

import gevent
import requests

from robust_helpers import frame, percentile, rss_bytes, ws_open_raw

MSG = "x" * 1024
QUEUE_BYTES = 256 * 1024


def blind_ponger(sock, stop: gevent.event.Event) -> None:
    """Answer pings without reading them."""
    while not stop.wait(0.1):
        try:
            sock.sendall(frame(1, b"3"))
        except OSError:
            return


def flood(h, sid: str, count: int, stop=None) -> int:
    """Send ``count`` 1 KB messages in bursts of 50; returns how many were accepted."""
    ok = 0
    for i in range(count):
        if h.eio.send(sid, MSG):
            ok += 1
        if i % 50 == 49:
            gevent.sleep(0)
            if stop is not None and stop.is_set():
                break
    return ok


def test_e12_never_reading_client_is_bounded_and_disconnected(robust_server):
    h = robust_server(ping_interval=0.5, ping_timeout=2, max_queue_bytes=QUEUE_BYTES, max_queue=1000,
                      overflow="disconnect")
    h.echo = False
    sock, _, sid = ws_open_raw(h, rcvbuf=4096)
    stop = gevent.event.Event()
    pong = gevent.spawn(blind_ponger, sock, stop)
    peak = 0
    try:
        for i in range(20_000):  # 20 MB offered
            if not h.eio.send(sid, MSG):
                break
            peak = max(peak, h.eio.queued(sid))
            if i % 50 == 49:
                gevent.sleep(0)
        assert h.wait_disconnect(sid) == "slow consumer"
        assert h.reasons(sid) == ["slow consumer"]
        h.wait_for(lambda: h.overflows, what="overflow event")
        assert h.overflows[0] == (sid, "disconnect")
        assert 0 < peak <= QUEUE_BYTES
    finally:
        stop.set()
        pong.join(2)
        sock.close()


def test_e12_never_reading_client_under_drop_policy_keeps_memory_flat(robust_server):
    h = robust_server(ping_interval=0.5, ping_timeout=2, max_queue_bytes=QUEUE_BYTES, max_queue=1000,
                      overflow="drop")
    h.echo = False
    sock, _, sid = ws_open_raw(h, rcvbuf=4096)
    stop = gevent.event.Event()
    pong = gevent.spawn(blind_ponger, sock, stop)
    try:
        flood(h, sid, 2_000)  # warm-up: fill the kernel buffers and the queue
        rss0 = rss_bytes()
        accepted = flood(h, sid, 50_000)  # 50 MB offered
        growth = rss_bytes() - rss0
        assert accepted < 1_000  # nearly everything was dropped, not queued
        assert h.eio.queued(sid) <= QUEUE_BYTES
        assert growth < 20 * 1024 * 1024, f"RSS grew {growth / 1e6:.1f} MB for 50 MB offered"
        # the session survives (the heartbeat is answered) and the application was told
        gevent.sleep(1.0)
        assert sid in h.eio.sessions and h.reasons(sid) == []
        assert h.overflows and all(o == (sid, "drop") for o in h.overflows)
    finally:
        stop.set()
        pong.join(2)
        sock.close()
    h.wait_disconnect(sid)


def test_e12_polling_client_that_never_gets_is_bounded(robust_server):
    h = robust_server(ping_interval=5, ping_timeout=5, max_queue=100, overflow="disconnect")
    h.echo = False
    with requests.Session() as s:
        sid = h.new_sid(s)
    peak = 0
    for _ in range(5_000):
        if not h.eio.send(sid, MSG):
            break
        peak = max(peak, h.eio.queued(sid))
    assert peak <= 100
    assert h.wait_disconnect(sid) == "slow consumer"
    h.wait_for(lambda: h.overflows, what="overflow event")
    assert h.overflows[0] == (sid, "disconnect")


def round_trips(h, n: int, clients: int) -> list:
    """``clients`` healthy WebSocket clients, each doing ``n`` sequential echo round trips."""
    latencies: list = []
    conns = [ws_open_raw(h) for _ in range(clients)]

    def run(sock, reader) -> None:
        for i in range(n):
            t0 = time.perf_counter()
            sock.sendall(frame(1, b"4ping%d" % i))
            while True:
                op, payload = reader.next()
                if payload == b"2":
                    sock.sendall(frame(1, b"3"))
                    continue
                assert payload == b"4ping%d" % i
                break
            latencies.append(time.perf_counter() - t0)

    gevent.joinall([gevent.spawn(run, s, r) for s, r, _ in conns], raise_error=True)
    for sock, reader, _ in conns:
        sock.sendall(frame(8, b"\x03\xe8"))
        reader.until_close()
        sock.close()
    return latencies


def test_e12_healthy_clients_p99_with_slow_consumers(robust_server):
    h = robust_server(ping_interval=1, ping_timeout=5, max_queue_bytes=QUEUE_BYTES, overflow="drop")
    base = round_trips(h, 50, 20)
    slow = [ws_open_raw(h, rcvbuf=4096) for _ in range(5)]
    stop = gevent.event.Event()
    tasks = [gevent.spawn(blind_ponger, s, stop) for s, _, _ in slow]

    def keep_flooding(sid: str) -> None:
        while not stop.is_set():
            flood(h, sid, 100, stop)
            gevent.sleep(0.01)  # ~10 MB/s offered per slow client

    tasks += [gevent.spawn(keep_flooding, sid) for _, _, sid in slow]
    try:
        gevent.sleep(0.3)  # the slow clients' queues are full by now
        loaded = round_trips(h, 50, 20)
    finally:
        stop.set()
        gevent.joinall(tasks, timeout=5)
        for s, _, _ in slow:
            s.close()
    p99_base, p99_loaded = percentile(base, 0.99), percentile(loaded, 0.99)
    print(f"healthy p99: {p99_base * 1e3:.2f} ms alone, {p99_loaded * 1e3:.2f} ms beside 5 slow consumers")
    # Generous: the flooding greenlets share this process's CPU with the clients.
    assert p99_loaded < max(10 * p99_base, 0.05) + 0.25, (p99_base, p99_loaded)
    assert all(h.eio.queued(sid) <= QUEUE_BYTES for _, _, sid in slow if sid in h.eio.sessions)
