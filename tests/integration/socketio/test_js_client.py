"""The real socket.io-client 4.8 (npm) against a real siothread server, over both transports."""
import pytest

from sio_helpers import js_bytes, run_node

pytestmark = pytest.mark.node

TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": ["polling", "websocket"]}


@pytest.mark.parametrize("mode", list(TRANSPORTS))
def test_multiplexing_binary_acks_and_onany(sio_app, mode):
    app = sio_app()
    r = run_node(app.url, "multiplex", transports=TRANSPORTS[mode])
    assert r["sameEngine"] is True  # one Engine.IO connection for both namespaces
    assert r["sids"][0] != r["sids"][1]
    assert r["order"] == ["connect", "welcome"]  # CONNECT ack before the connect handler's emit
    assert r["welcome"] == {"auth": {"token": "main"}, "sid": r["sids"][0]}
    assert r["echoed"] == [1, "two", {"three": [True]}]
    assert r["binary"] == [js_bytes(b"\x01\x02\x03"), {"nested": [js_bytes(b"\x04\x05")]}]
    assert r["chatEcho"] == "in chat"
    assert r["viaCallback"] == [None, ["cb"]]
    assert r["noAck"] == "operation has timed out"
    assert ["welcome", [{"auth": {"token": "main"}, "sid": r["sids"][0]}]] in r["anyEvents"]
    if mode == "polling":
        assert r["transport"] == "polling"
    elif mode == "websocket":
        assert r["transport"] == "websocket"
    app.sio.sleep(0.1)
    assert {(ns, auth["token"]) for ns, _, auth in app.connects} == {("/", "main"), ("/chat", "chat")}


def test_server_to_client_acks(sio_app):
    app = sio_app()
    r = run_node(app.url, "server_acks", transports=["websocket"])
    assert r["answer"] == [42, "twice"]
    assert r["timeoutReport"] == "TimeoutError"


def test_broadcast_with_acks_to_a_room(sio_app):
    app = sio_app()
    r = run_node(app.url, "broadcast_acks", clients=4, transports=["websocket"])
    summary, sids = r["summary"], r["sids"]
    assert summary["timed_out"] == [sids[-1]]
    assert summary["disconnected"] == []
    assert summary["responses"] == {sid: {"from": i, "question": "lunch?"} for i, sid in enumerate(sids[:-1])}


def test_refusals_carry_message_and_data(sio_app):
    app = sio_app()
    r = run_node(app.url, "refusals", transports=["websocket"])
    assert r == {"message": "refused", "data": {"why": "banned"}, "unknown": "Invalid namespace"}


def test_disconnect_reasons_both_sides(sio_app):
    app = sio_app()
    r = run_node(app.url, "disconnects", transports=["websocket"])
    assert r["kicked"] == "io server disconnect"
    app.sio.sleep(0.2)
    reasons = {sid: why for _, sid, why in app.disconnects}
    assert reasons[r["sidA"]] == app.sio.reason.SERVER_DISCONNECT
    assert reasons[r["sidB"]] == app.sio.reason.CLIENT_DISCONNECT


@pytest.mark.parametrize("mode", ["websocket", "polling"])
def test_room_broadcast_excludes_sender_and_outsiders(sio_app, mode):
    app = sio_app()
    r = run_node(app.url, "rooms", transports=TRANSPORTS[mode])
    assert r["inbox"] == [[], [[{"hello": js_bytes(b"\x09")}]], []]


def test_admin_ui_dashboard_protocol(sio_app):
    app = sio_app()
    app.sio.instrument(auth={"username": "admin", "password": "pw"}, server_stats_interval=0.2,
                       allow_plain_password=True)
    r = run_node(app.url, "admin", transports=["websocket"], username="admin", password="pw")
    seen, user = r["seen"], r["userId"]
    assert "session" in seen and seen["config"][0][0]["supportedFeatures"][-1] == "ALL_EVENTS"
    assert any(s["nsp"] == "/admin" for s in seen["all_sockets"][0][0])
    assert any(args[0]["id"] == user and args[0]["transport"] == "websocket" for args in seen["socket_connected"])
    assert ["/", user, ["echo", "watched"]] in [args[:3] for args in seen["event_received"]]
    assert ["/", "watched-room", user] in [args[:3] for args in seen["room_joined"]]
    assert any(args[:2] == ["/", user] and args[2][0] == "welcome" for args in seen["event_sent"])
    stats = seen["server_stats"][-1][0]
    assert stats["clientsCount"] >= 1 and {"name": "/admin", "socketsCount": 1} in stats["namespaces"]
    assert ["/", user, "client namespace disconnect"] in [args[:3] for args in seen["socket_disconnected"]]
