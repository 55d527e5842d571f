"""Connection-state recovery with the real socket.io-client 4.8 (``tests/js/sio_recovery.js``).

The server drops the Engine.IO connection (not a namespace disconnect) while it
keeps emitting to the client's room; the client reconnects by itself and must
get its sid, rooms and session back, with every missed event exactly once and
in order.
"""
import json
import subprocess
from typing import Any, Dict, List

import pytest

from sio_helpers import App, require_node_modules

pytestmark = pytest.mark.node

RECOVERY = {"max_disconnection_duration": 5, "skip_middlewares": True}


def run_recovery(url: str, scenario: str, timeout: float = 20, **opts: Any) -> Dict[str, Any]:
    js = require_node_modules()
    proc = subprocess.run(["node", str(js / "sio_recovery.js"), url, scenario, json.dumps(opts)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(js))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"node scenario {scenario} failed: {proc.stdout} {proc.stderr}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def recovery_app(sio: Any, app: App) -> None:
    app.middleware_calls = []  # type: ignore[attr-defined]

    @sio.use
    def middleware(sid: str, environ: Dict[str, Any], auth: Dict[str, Any]) -> None:
        app.middleware_calls.append(sid)  # type: ignore[attr-defined]

    @sio.on("connect")
    def connect(sid: str, environ: Dict[str, Any], auth: Dict[str, Any]) -> None:
        recovered = sio.is_recovered(sid)
        app.connects.append(("/", sid, {"recovered": recovered, "auth": dict(auth)}))
        if not recovered:
            sio.enter_room(sid, "news")
            sio.save_session(sid, {"name": "client-" + sid[:4]})

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        app.disconnects.append(("/", sid, reason))

    @sio.on("start")
    def start(sid: str, n: int) -> str:
        for i in range(n):
            sio.emit("tick", i, to="news")
        return "ok"

    def drop(sid: str) -> None:
        # close the Engine.IO connection only, like Node's socket.conn.close()
        sio.eio.disconnect(sio._socket(sid).eio_sid, "forced close")

    @sio.on("drop")
    def on_drop(sid: str) -> None:
        drop(sid)
        # the socket is leaving: stored for it all the same
        sio.emit("tick", 3, to="news")
        sio.emit("tick", 4, to="news")
        sio.emit("direct", "d1", to=sid)
        sio.emit("excluded", 1, to="news", skip_sid=sid)  # not for it
        sio.emit("vol", 1, to="news", volatile=True)  # volatile: never stored
        sio.emit("acked", 1, to=sid, callback=lambda *a: None)  # with an ack: never stored

        def later() -> None:
            sio.sleep(0.1)  # the socket has closed; the client has not reconnected yet
            sio.emit("tick", 5, to="news")
            sio.emit("tick", 6, to="news")
            sio.emit("direct", "d2", to=sid)

        sio.start_background_task(later)

    @sio.on("drop_quiet")
    def drop_quiet(sid: str) -> None:
        drop(sid)

        def later() -> None:
            sio.sleep(0.1)
            sio.emit("missed", 1, to=sid)
            sio.emit("missed", 2, to="news")

        sio.start_background_task(later)

    @sio.on("state")
    def state(sid: str) -> Dict[str, Any]:
        return {"rooms": sio.rooms(sid), "session": sio.get_session(sid), "recovered": sio.is_recovered(sid)}


def _names_and_values(events: List[List[Any]]) -> List[List[Any]]:
    """Events without their offsets (checked to be increasing hex strings)."""
    offsets = [int(e[-1], 16) for e in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    return [e[:-1] for e in events]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_recovered_socket_gets_sid_rooms_data_and_missed_events_once_in_order(sio_app, transports):
    app = sio_app(recovery_app, recovery=RECOVERY)
    r = run_recovery(app.url, "recover", transports=transports, reconnectionDelay=500)
    sid = r["first"]["id"]
    assert r["first"]["recovered"] is False
    assert r["second"] == {"id": sid, "recovered": True}
    assert r["reason"] == "transport close"
    assert _names_and_values(r["events"]) == [
        ["tick", 0], ["tick", 1], ["tick", 2],  # received live
        ["tick", 3], ["tick", 4], ["direct", "d1"], ["tick", 5], ["tick", 6], ["direct", "d2"],  # missed
    ]
    assert r["state"] == {"rooms": [sid, "news"], "session": {"name": "client-" + sid[:4]}, "recovered": True}
    app.sio.sleep(0.2)
    assert [c[2]["recovered"] for c in app.connects] == [False, True]
    assert all("pid" not in c[2]["auth"] and "offset" not in c[2]["auth"] for c in app.connects)
    assert app.middleware_calls == [sid]  # skip_middlewares: the recovered socket skipped it
    assert ("/", sid, "forced close") in app.disconnects


def test_client_that_received_no_event_is_recovered(sio_app):
    # socketio/socket.io#5538: socket.io-client sends no offset before its first event
    app = sio_app(recovery_app, recovery=RECOVERY)
    r = run_recovery(app.url, "zero_event", reconnectionDelay=500)
    sid = r["first"]["id"]
    assert r["second"] == {"id": sid, "recovered": True}
    assert _names_and_values(r["events"]) == [["missed", 1], ["missed", 2]]
    assert r["state"]["rooms"] == [sid, "news"]


def test_session_expires_after_max_disconnection_duration(sio_app):
    app = sio_app(recovery_app, recovery={"max_disconnection_duration": 0.3})
    r = run_recovery(app.url, "recover", reconnectionDelay=1000)
    assert r["second"]["recovered"] is False
    assert r["second"]["id"] != r["first"]["id"]
    assert _names_and_values(r["events"]) == [["tick", 0], ["tick", 1], ["tick", 2]]
    assert r["state"]["rooms"] == [r["second"]["id"], "news"]  # a new socket, joined anew
    assert app.sio.manager._store.stored_sessions == 0


def test_client_namespace_disconnect_is_not_recoverable(sio_app):
    app = sio_app(recovery_app, recovery=RECOVERY)
    r = run_recovery(app.url, "client_disconnect")
    assert r["second"]["recovered"] is False
    assert r["second"]["id"] != r["first"]["id"]
    assert r["state"]["recovered"] is False


def test_forged_pid_is_not_recovered(sio_app):
    app = sio_app(recovery_app, recovery=RECOVERY)
    r = run_recovery(app.url, "forged")
    assert r["madeUp"]["recovered"] is False
    assert r["thiefConnect"]["recovered"] is False
    assert r["thiefConnect"]["id"] != r["victimId"]
    assert r["thiefState"]["session"] == {"name": "client-" + r["thiefConnect"]["id"][:4]}


def test_without_recovery_events_carry_no_offset(sio_app):
    app = sio_app(recovery_app)
    r = run_recovery(app.url, "client_disconnect")
    assert r["events"] == [["tick", 0]]
    assert not r["second"].get("recovered")  # socket.io-client: undefined without a pid
