"""The real @socket.io/admin-ui dashboard (npm 0.5.1, its built ui/dist) against siothread in Chromium.

The server serves the dashboard's files itself (``dashboard_files``), so the page, the
admin namespace and the watched user share one origin. The browser logs in with a
bcrypt-protected password, lists the sockets, rooms, events and server stats, sees the
user's upgrade (``socket_updated``), and uses the join/leave/disconnect actions; in
read-only mode those actions are absent.
"""
from __future__ import annotations

import json
import os
import subprocess
from typing import Iterator

import bcrypt
import pytest

import siothread
from siothread.server.admin import dashboard_files
from tests.conftest import JS_DIR, require_node_modules, require_program
from tests.ops.ops_helpers import running

DIST = JS_DIR / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()

pytestmark = pytest.mark.node


@pytest.fixture(params=["full", "readonly"])
def dashboard(request: pytest.FixtureRequest) -> Iterator[tuple]:
    require_node_modules()
    require_program("chromium", "the Debian package chromium (scripts/test.sh installs it as root)")
    mode = request.param
    sio = siothread.Server()
    sio.instrument(auth={"username": "admin", "password": HASH}, read_only=mode == "readonly",
                   server_id="siothread-under-test", server_stats_interval=0.5)
    sio.on("echo", lambda sid, data: data)
    sio.on("my-rooms", lambda sid: sorted(r for r in sio.rooms(sid) if r != sid))
    app = siothread.WSGIApp(sio, static_files=dashboard_files(str(DIST), "/admin-ui"))
    with running(sio, app) as url:
        yield url, mode, sio


def test_dashboard_in_chromium(dashboard, tmp_path) -> None:
    url, mode, sio = dashboard
    shots = os.environ.get("SIOTHREAD_SCREENSHOTS", "")
    out = subprocess.run(["node", str(JS_DIR / "admin_dashboard.js"), url, mode, shots],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["wrongPassword"] == "invalid credentials" and seen["loggedIn"]
    user = seen["userId"]
    assert "/admin" in seen["dashboard"] and "WebSocket" in seen["dashboard"]
    assert user in seen["socketRow"] and "WebSocket" in seen["socketRow"]
    assert ["socket_updated", {"id": user, "nsp": "/", "transport": "websocket"}] in seen["socketUpdated"]
    assert "echo" in seen["eventsPage"]
    assert "siothread-under-test" in seen["serversPage"]
    if mode == "readonly":
        assert seen["actionButtons"] == 0
        assert seen["roomsAfterJoin"] == []
        return
    assert seen["actionButtons"] == 3  # close the connection, disconnect the socket, leave its own room
    assert seen["roomsAfterJoin"] == ["ops-room"]
    assert "ops-room" in seen["roomsPage"]
    assert seen["roomsAfterLeave"] == []
    assert seen["userDisconnectReason"] == "io server disconnect"
