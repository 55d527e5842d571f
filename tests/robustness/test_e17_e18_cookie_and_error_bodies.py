"""E17 (the sid cookie) and E18 (error bodies never echo input, no header injection).

These call the Engine.IO WSGI entry point directly with hostile environs (no
sockets needed: the rules are about what the server writes).
"""
from __future__ import annotations

import io
import json

import pytest

from siothread.engine import Server

FIXED_MESSAGES = {
    "Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request", "Forbidden",
    "Unsupported protocol version", "Server is shutting down", "Too many sessions",
}
HOSTILE = '<script>alert("x")</script>\r\nX-Injected: 1'


def call(eio: Server, method: str = "GET", query: str = "EIO=4&transport=polling", body: bytes = b"",
         **headers: str):
    environ = {
        "REQUEST_METHOD": method, "QUERY_STRING": query, "PATH_INFO": "/engine.io/",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "app.example",
    }
    for k, v in headers.items():
        environ[k] = v
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, response_headers

    out = b"".join(eio.handle_request(environ, start_response))
    return seen["status"], seen["headers"], out


def test_e17_cookie_is_off_by_default():
    _, headers, _ = call(Server())
    assert not [h for h in headers if h[0].lower() == "set-cookie"]


@pytest.mark.parametrize("scheme, secure", [("http", False), ("https", True)])
def test_e17_cookie_flags(scheme, secure):
    eio = Server(cookie="io")
    environ_scheme = {"wsgi.url_scheme": scheme}
    status, headers, body = call(eio, **environ_scheme)
    assert status.startswith("200")
    cookie = [v for k, v in headers if k.lower() == "set-cookie"][0]
    sid = json.loads(body[1:])["sid"]
    parts = [p.strip() for p in cookie.split(";")]
    assert parts[0] == f"io={sid}"
    assert "HttpOnly" in parts and "SameSite=Lax" in parts
    assert ("Secure" in parts) is secure
    eio.shutdown(1)


def bad_requests():
    """(method, query, body, headers) for every refusal path of the engine."""
    q = f"EIO=4&transport=polling&sid={HOSTILE}"
    return [
        ("GET", f"EIO={HOSTILE}&transport=polling", b"", {}),
        ("GET", f"EIO=4&transport={HOSTILE}", b"", {}),
        ("GET", q, b"", {}),
        ("POST", q, b"4x", {}),
        ("PUT", "EIO=4&transport=polling", b"", {}),
        ("POST", "EIO=4&transport=polling", b"", {}),
        ("GET", "EIO=4&transport=polling", b"", {"HTTP_ORIGIN": HOSTILE}),
        ("OPTIONS", "EIO=4&transport=polling", b"", {"HTTP_ORIGIN": HOSTILE}),
        ("GET", "EIO=4&transport=websocket", b"", {"HTTP_UPGRADE": HOSTILE}),
        ("GET", "EIO=4&transport=polling&j=" + HOSTILE, b"", {}),
    ]


@pytest.mark.parametrize("method, query, body, headers", bad_requests())
def test_e18_error_bodies_are_fixed_and_never_echo_input(method, query, body, headers):
    eio = Server()
    status, response_headers, out = call(eio, method, query, body, **headers)
    if status.startswith("200"):  # the JSONP index case opens a session: not an error path
        eio.shutdown(1)
        return
    assert status[:3] in ("400", "403", "404", "405")
    hmap = {k.lower(): v for k, v in response_headers}
    assert hmap["content-type"] == "application/json"
    assert hmap["x-content-type-options"] == "nosniff"
    payload = json.loads(out)
    assert payload["message"] in FIXED_MESSAGES
    assert b"script" not in out and b"Injected" not in out
    for k, v in response_headers:
        assert "\r" not in v and "\n" not in v and "Injected" not in k
        assert "script" not in v
    assert eio.sessions == {}


def test_e18_session_errors_on_an_open_session_never_echo_input():
    eio = Server()
    _, _, opened = call(eio)
    sid = json.loads(opened[1:])["sid"]
    # a payload that is not Engine.IO: 400 with a fixed body, the session is closed
    status, headers, out = call(eio, "POST", f"EIO=4&transport=polling&sid={sid}", HOSTILE.encode())
    assert status.startswith("400")
    assert json.loads(out)["message"] in FIXED_MESSAGES
    assert b"script" not in out
    assert eio.sessions == {}
