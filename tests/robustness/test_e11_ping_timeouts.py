"""E11: clients that stop answering pings, on both transports.

Expected: the session closes with "ping timeout" within ping_interval +
ping_timeout (+ slack), the disconnect handler runs exactly once, a parked GET
is released, the WebSocket is closed, and nothing leaks. E14's WebSocket half
(a client that sends half a frame and stalls) is the same clock: the heartbeat
ends it, the half frame does not wedge the session.
"""
from __future__ import annotations

import time

import gevent
import requests

from robust_helpers import frame, ws_open_raw

INTERVAL, TIMEOUT = 0.3, 0.2
SLACK = 1.0


def test_e11_polling_client_that_stops_answering_is_closed_once(robust_server):
    h = robust_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    sids = []
    with requests.Session() as s:
        for _ in range(20):
            sids.append(h.new_sid(s))
    t0 = time.monotonic()
    for sid in sids:
        assert h.wait_disconnect(sid, timeout=INTERVAL + TIMEOUT + SLACK) == "ping timeout"
    assert time.monotonic() - t0 <= INTERVAL + TIMEOUT + SLACK
    gevent.sleep(INTERVAL + TIMEOUT)  # a second timer firing would show up here
    for sid in sids:
        assert h.reasons(sid) == ["ping timeout"]
    assert h.eio.sessions == {}


def test_e11_parked_get_is_released_when_the_ping_times_out(robust_server):
    h = robust_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    with requests.Session() as s:
        sid = h.new_sid(s)
        assert s.get(h.url(sid=sid), timeout=5).text == "2"  # the PING, never answered
        t0 = time.monotonic()
        r = s.get(h.url(sid=sid), timeout=5)  # parks until the session ends
        assert time.monotonic() - t0 <= TIMEOUT + SLACK
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            assert r.text.split("\x1e")[-1] in ("1", "6")
    assert h.reasons(sid) == ["ping timeout"]


def test_e11_websocket_client_that_never_answers_is_closed_once(robust_server):
    h = robust_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    socks = [ws_open_raw(h) for _ in range(20)]
    t0 = time.monotonic()
    for sock, reader, sid in socks:
        frames, code = reader.until_close()
        assert [p for _, p in frames] == [b"2"]
        assert code == 1000
        sock.close()
        assert h.wait_disconnect(sid) == "ping timeout"
    assert time.monotonic() - t0 <= INTERVAL + TIMEOUT + SLACK
    gevent.sleep(INTERVAL + TIMEOUT)
    for _, _, sid in socks:
        assert h.reasons(sid) == ["ping timeout"]


def test_e11_answering_client_stays_while_silent_ones_go(robust_server):
    h = robust_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    good, good_reader, good_sid = ws_open_raw(h)
    bad, bad_reader, bad_sid = ws_open_raw(h)
    deadline = time.monotonic() + 4 * (INTERVAL + TIMEOUT)
    pings = 0
    while time.monotonic() < deadline:
        op, payload = good_reader.next()
        if payload == b"2":
            pings += 1
            good.sendall(frame(1, b"3"))
    assert pings >= 4
    assert h.reasons(bad_sid) == ["ping timeout"]
    assert good_sid in h.eio.sessions and h.reasons(good_sid) == []
    good.sendall(frame(8, b"\x03\xe8"))
    good_reader.until_close()
    for s in (good, bad):
        s.close()
    h.wait_disconnect(good_sid)


def test_e14_websocket_half_frame_then_stall_is_ended_by_the_heartbeat(robust_server):
    h = robust_server(ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    sock, reader, sid = ws_open_raw(h)
    sock.sendall(frame(1, b"4" + b"x" * 1000)[:300])  # header and part of the payload
    t0 = time.monotonic()
    assert h.wait_disconnect(sid, timeout=INTERVAL + TIMEOUT + SLACK) == "ping timeout"
    # the server closes the socket (its close frame cannot be answered by a stalled peer)
    reader.until_close()
    assert time.monotonic() - t0 < INTERVAL + TIMEOUT + SLACK + 6
    sock.close()
    assert h.reasons(sid) == ["ping timeout"]
