"""socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4) against ``Server(allow_eio3=True)``.

The real npm ``socket.io-client@2`` (aliased ``socket.io-client-v2`` in tests/js/package.json)
runs tests/js/sio_v2_scenarios.js; the server is the one every Socket.IO scenario uses
(sio_helpers.build_app).
"""
from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest
import requests

from sio_helpers import App, js_bytes, run_node

pytestmark = pytest.mark.node


def run_v2(url: str, scenario: str, **opts: Any) -> Dict[str, Any]:
    return run_node(url, scenario, script="sio_v2_scenarios.js", package="socket.io-client-v2", **opts)


@pytest.fixture
def legacy_app(sio_app: Any) -> Iterator[App]:
    yield sio_app(allow_eio3=True)


ROUND_TRIPS = {
    "text": ["héllo 😀 wörld", {"n": 1}],  # the echo handler returns its arguments: one ack argument each
    "binary": [js_bytes(b"\x00\x01\x02\xff"), {"nested": js_bytes(b"ok")}],
    "asked": [42],
}


@pytest.mark.parametrize("transports, options", [
    (["polling"], {}),  # in Node, 2.x always polls with b64=1 (tests/browser covers binary polling)
    (["polling", "websocket"], {"upgrade": True}),
    (["websocket"], {}),
], ids=["polling", "upgrade", "websocket"])
def test_round_trips(legacy_app: App, transports: list, options: dict) -> None:
    result = run_v2(legacy_app.url, "basic", transports=transports, **options)
    for key, expected in ROUND_TRIPS.items():
        assert result[key] == expected, key
    assert result["transport"] == transports[-1]
    # the main namespace was joined without a CONNECT from the client, under the id 2.x computes
    assert result["welcome"] == {"auth": {}, "sid": result["id"]}
    assert legacy_app.connects[0][:2] == ("/", result["id"])


def test_next_to_connection_state_recovery(sio_app: Any) -> None:
    # a v3 socket gets no pid (protocol v4 cannot carry one) and its session is not kept
    app = sio_app(allow_eio3=True, recovery={"max_disconnection_duration": 5})
    result = run_v2(app.url, "basic", transports=["websocket"])
    assert result["text"] == ROUND_TRIPS["text"]
    assert result["welcome"] == {"auth": {}, "sid": result["id"]}
    assert not app.sio._pids


def test_namespaces_auth_from_query_and_v4_errors(legacy_app: App) -> None:
    result = run_v2(legacy_app.url, "namespaces", transports=["websocket"])
    assert result["welcome"]["auth"] == {"token": "abc"}
    assert result["id"] == result["welcome"]["sid"] and result["id"].startswith("/chat#")
    assert result["echoed"] == ["in chat"]
    assert result["invalid"] == "Invalid namespace"
    assert result["refusal"] == {"why": "no-entry"}
    assert result["connected"] is True


def test_reconnection(legacy_app: App) -> None:
    result = run_v2(legacy_app.url, "reconnection", transports=["polling", "websocket"])
    assert result["first"] != result["second"] == result["id"]
    assert result["chatId"] == "/chat#" + result["id"]
    assert result["echo"] == ["again"]


def test_v2_and_v4_clients_share_a_room(legacy_app: App) -> None:
    seen = run_v2(legacy_app.url, "mixed")
    polling = {"from": "v2-polling"}
    websocket = {"from": "v2-websocket", "bytes": js_bytes(b"\x07\x08")}
    v4 = {"from": "v4", "bytes": js_bytes(b"\x09")}
    assert seen == {"a": [websocket, v4], "b": [polling, v4], "c": [polling, websocket]}


def test_refused_when_allow_eio3_is_off(sio_app: Any) -> None:
    app = sio_app()
    result = run_v2(app.url, "refused")
    assert result["error"] == "xhr poll error"
    body = requests.get(app.url + "/socket.io/?EIO=3&transport=polling", timeout=5)
    assert body.status_code == 400
    assert body.json() == {"code": 5, "message": "Unsupported protocol version"}
