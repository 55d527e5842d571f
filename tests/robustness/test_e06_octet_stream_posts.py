"""E6 (CVE-2026-59725): polling POSTs with ``Content-Type: application/octet-stream``.

engine.io reported the error but never ended the response, so each such POST
kept a connection (an fd) open. Here every one must be answered 400 and the
fd count must stay flat over 1000 of them.
"""
from __future__ import annotations

import json

import requests

from robust_helpers import connect, open_fds, read_response


def octet_post(h, s: requests.Session) -> None:
    sid = h.new_sid(s)
    r = s.post(h.url(sid=sid), data=b"\x00\x01\x02binary",
               headers={"Content-Type": "application/octet-stream"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["code"] == 3


def test_e06_thousand_octet_stream_posts_keep_fd_count_flat(robust_server):
    h = robust_server()
    with requests.Session() as s:
        for _ in range(50):  # warm-up: pools, resolver, first allocations
            octet_post(h, s)
        fds = open_fds()
        for _ in range(950):
            octet_post(h, s)
        assert open_fds() <= fds + 2
    h.wait_for(lambda: not h.eio.sessions, what="sessions closed")
    assert len(h.disconnects) == 1000
    assert {r for _, r in h.disconnects} == {"transport error"}


def test_e06_octet_stream_on_fresh_connections_each_completes(robust_server):
    h = robust_server()
    fds = open_fds()
    for _ in range(200):
        sid = h.new_sid()
        with connect(h.port) as c:
            c.sendall(
                f"POST {h.target(sid=sid)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: 4\r\n\r\n\x00\x01\x02\x03".encode("latin-1")
            )
            status, _, body = read_response(c)
            assert status == 400 and json.loads(body)["code"] == 3
    h.wait_for(lambda: open_fds() <= fds, what="fds back to baseline")
