"""E9 (CVE-2022-21676, CVE-2022-41940): abuse around the WebSocket opening handshake.

- frames (valid or invalid) sent in the same write as the upgrade request,
  before the 101 arrives, are owned by the WebSocket parser from the first byte;
- ``Upgrade: h2c`` and other foreign upgrades are refused quietly;
- a client that resets the TCP connection while its upgrade is being refused
  costs nothing: no traceback, the fd is released, the server keeps serving.
"""
from __future__ import annotations

import json

import pytest
from robust_helpers import (
    FrameReader, connect, frame, open_fds, raw_handshake, read_response, read_response_head, read_until_eof, reset,
    ws_request,
)


@pytest.fixture(params=["siothread", "geventwebsocket"])
def handler(request):
    return request.param


def test_e09_invalid_frame_in_the_same_write_as_the_upgrade_request(robust_server, handler, capfd):
    h = robust_server(handler=handler, ping_interval=5, ping_timeout=5)
    with connect(h.port) as s:
        s.sendall(ws_request(h.target("websocket"), h.port) + frame(1, b"4x", rsv=6))
        status, _, rest = read_response_head(s)
        assert status == 101
        reader = FrameReader(s, rest)
        frames, code = reader.until_close()
        assert code == 1002
        assert [op for op, _ in frames] == [1]  # only the OPEN packet
    h.wait_for(lambda: h.disconnects, what="disconnect")
    assert h.disconnects[0][1] == "parse error"
    assert "Traceback" not in capfd.readouterr().err


def test_e09_valid_frames_before_the_101_are_not_lost(robust_server):
    h = robust_server(ping_interval=5, ping_timeout=5)
    with connect(h.port) as s:
        s.sendall(ws_request(h.target("websocket"), h.port) + frame(1, b"4early") + frame(1, b"4second"))
        status, _, rest = read_response_head(s)
        assert status == 101
        reader = FrameReader(s, rest)
        got = [reader.next()[1] for _ in range(3)]
        assert got[0].startswith(b"0{")
        assert got[1:] == [b"4early", b"4second"]
        s.sendall(frame(8, b"\x03\xe8"))
        reader.until_close()
    h.wait_for(lambda: h.disconnects, what="disconnect")


def test_e09_garbage_instead_of_an_http_request_is_closed_quietly(robust_server, capfd):
    h = robust_server(header_timeout=1)  # a request line that never ends: the header timeout
    fds = open_fds()
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello start
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",                              # the HTTP/2 preface
                 b"\x81\x85\x00\x00\x00\x004hello"):                               # a bare WebSocket frame
        with connect(h.port) as s:
            s.sendall(junk)
            data = read_until_eof(s, limit=5)
            assert data == b"" or data.startswith(b"HTTP/1.1 4")
    h.wait_for(lambda: open_fds() <= fds, what="fds released")
    assert "Traceback" not in capfd.readouterr().err
    assert h.eio.sessions == {}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_e09_upgrade_h2c_is_not_a_websocket(robust_server, transport):
    h = robust_server()
    with connect(h.port) as s:
        s.sendall(
            f"GET {h.target(transport)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            f"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n".encode()
        )
        status, headers, body = read_response(s)
    if transport == "websocket":
        assert status == 400
        assert json.loads(body)["code"] == 3
        assert h.eio.sessions == {}
    else:
        # A polling handshake ignores a foreign Upgrade header (it is an ordinary GET).
        assert status == 200 and body.startswith(b"0{")


def test_e09_reset_during_upgrade_rejection_is_quiet(robust_server, capfd):
    h = robust_server()
    fds = open_fds()
    evil = "Origin: https://evil.example\r\n"
    for i in range(100):
        s = connect(h.port)
        if i % 2:
            s.sendall(ws_request(h.target("websocket"), h.port, evil))  # refused 403
        else:
            s.sendall(ws_request(h.target("websocket", "nosuchsid"), h.port))  # refused 400
        reset(s)  # RST before (or while) the refusal is written
    # the server still serves, and every fd came back
    assert raw_handshake(h)[0] == 200
    h.wait_for(lambda: open_fds() <= fds, what="fds released")
    err = capfd.readouterr().err
    assert "Traceback" not in err


def test_e09_reset_during_gevent_websocket_refusal_is_quiet(robust_server, capfd):
    """gevent-websocket answers 101 before the engine refuses with a close frame."""
    h = robust_server(handler="geventwebsocket")
    fds = open_fds()
    for _ in range(50):
        s = connect(h.port)
        s.sendall(ws_request(h.target("websocket", "nosuchsid"), h.port, "Origin: https://evil.example\r\n"))
        reset(s)
    assert raw_handshake(h)[0] == 200
    h.wait_for(lambda: open_fds() <= fds, what="fds released")
    assert "Traceback" not in capfd.readouterr().err
