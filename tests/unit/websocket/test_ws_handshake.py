"""Opening-handshake helpers (RFC 6455 section 4)."""
from __future__ import annotations

import base64
from typing import Dict

import pytest

from siothread.errors import RemoteProtocolError
from siothread.protocol.websocket import (
    HandshakeError,
    accept_key,
    check_response_accept,
    check_upgrade_request,
    client_key,
    headers_from_environ,
    response_headers,
)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(**overrides: str) -> Dict[str, str]:
    headers = {
        "host": "server.example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": RFC_KEY,
        "sec-websocket-version": "13",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers


def test_accept_key_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_valid_upgrade_requests() -> None:
    for overrides in [
        {},
        {"connection": "keep-alive, Upgrade"},
        {"connection": "upgrade"},
        {"upgrade": "WebSocket"},
        {"upgrade": "foo, websocket"},
        {"sec_websocket_version": " 13 "},
        {"sec_websocket_key": f" {RFC_KEY} "},
    ]:
        assert check_upgrade_request("GET", request(**overrides)) == RFC_KEY


def test_invalid_upgrade_requests() -> None:
    for method, overrides in [
        ("POST", {}),
        ("get", {}),
        ("GET", {"upgrade": ""}),
        ("GET", {"upgrade": "h2c"}),
        ("GET", {"upgrade": "websocket2"}),
        ("GET", {"connection": ""}),
        ("GET", {"connection": "keep-alive"}),
        ("GET", {"connection": "upgrades"}),
        ("GET", {"sec_websocket_key": ""}),
        ("GET", {"sec_websocket_key": "short"}),
        ("GET", {"sec_websocket_key": "dGhlIHNhbXBsZSBub25jZQ"}),  # no padding
        ("GET", {"sec_websocket_key": base64.b64encode(bytes(17)).decode()}),
        ("GET", {"sec_websocket_key": base64.b64encode(bytes(15)).decode()}),
        ("GET", {"sec_websocket_key": "dGhlIHNhbXBsZSBub25jZQ!="}),
        ("GET", {"sec_websocket_key": "dGhlIHNhbXBsZSBub25jZQé="}),
        ("GET", {"sec_websocket_key": f"{RFC_KEY}, {RFC_KEY}"}),
    ]:
        with pytest.raises(HandshakeError) as info:
            check_upgrade_request(method, request(**overrides))
        assert isinstance(info.value, RemoteProtocolError)
        assert info.value.http_status == 400
        assert info.value.headers == []


def test_missing_headers() -> None:
    for name in ("upgrade", "connection", "sec-websocket-key", "sec-websocket-version"):
        headers = request()
        del headers[name]
        with pytest.raises(HandshakeError):
            check_upgrade_request("GET", headers)


def test_wrong_version_advertises_13() -> None:
    for version in ("8", "7", "", "13, 8", "14"):
        with pytest.raises(HandshakeError) as info:
            check_upgrade_request("GET", request(sec_websocket_version=version))
        assert info.value.http_status == 400
        assert info.value.headers == [("Sec-WebSocket-Version", "13")]


def test_headers_from_environ() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": RFC_KEY,
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate",
        "wsgi.input": object(),
    }
    headers = headers_from_environ(environ)
    assert headers == {
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": RFC_KEY,
        "sec-websocket-version": "13",
        "sec-websocket-extensions": "permessage-deflate",
    }
    assert check_upgrade_request(environ["REQUEST_METHOD"], headers) == RFC_KEY


def test_response_headers() -> None:
    assert response_headers(RFC_KEY) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", RFC_ACCEPT),
    ]
    assert response_headers(RFC_KEY, extensions="permessage-deflate")[-1] == (
        "Sec-WebSocket-Extensions",
        "permessage-deflate",
    )


def test_client_key_and_accept_check() -> None:
    key = client_key()
    assert len(base64.b64decode(key, validate=True)) == 16
    assert key != client_key()
    assert check_upgrade_request("GET", request(sec_websocket_key=key)) == key
    check_response_accept(key, accept_key(key))
    check_response_accept(RFC_KEY, f" {RFC_ACCEPT}")
    for wrong in (None, "", RFC_ACCEPT.lower(), accept_key(client_key())):
        with pytest.raises(RemoteProtocolError):
            check_response_accept(RFC_KEY, wrong)
