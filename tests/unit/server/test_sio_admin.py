"""The Admin UI instrumentation, driven like the dashboard drives it."""
import bcrypt
import gevent
import pytest

from siothread.protocol.socketio import PacketType as T

AUTH = {"username": "admin", "password": "secret"}
#: what an application configures: the password's bcrypt hash (4 rounds: fast tests)
HASHED = {"username": "admin", "password": bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()}


def admin_peer(sio, auth=AUTH):
    peer = sio.eio.open()
    peer.connect("/admin", auth)
    return peer


def test_instrument_requires_explicit_auth(sio):
    with pytest.raises(ValueError):
        sio.instrument()


def test_plain_password_needs_explicit_consent(sio):
    with pytest.raises(ValueError, match="bcrypt hash"):
        sio.instrument(auth=AUTH)
    with pytest.raises(ValueError, match="not a valid bcrypt hash"):
        sio.instrument(auth={"username": "admin", "password": "$2b$04$" + "x" * 53})


def test_wrong_credentials_are_refused(sio):
    sio.instrument(auth=HASHED)
    peer = admin_peer(sio, {"username": "admin", "password": "secret" + "x" * 100})
    assert peer.wait_packet(T.CONNECT_ERROR, "/admin").data == {"message": "invalid credentials"}
    peer = admin_peer(sio, {"username": "admin", "password": "nope"})
    assert peer.wait_packet(T.CONNECT_ERROR, "/admin").data == {"message": "invalid credentials"}
    peer = admin_peer(sio)
    peer.connected_sid("/admin")


def test_plain_password_when_allowed(sio):
    sio.instrument(auth=[AUTH, {"username": "ops", "password": "other"}], allow_plain_password=True)
    peer = admin_peer(sio, {"username": "admin", "password": "nope"})
    assert peer.wait_packet(T.CONNECT_ERROR, "/admin").data == {"message": "invalid credentials"}


def test_dashboard_protocol(sio):
    sio.instrument(auth=HASHED, server_stats_interval=0.05)
    sio.on("hello", lambda sid, x: x)
    peer = admin_peer(sio)
    peer.connected_sid("/admin")
    session_id = peer.wait_packet(T.EVENT, "/admin", "session").data[1]
    config = peer.wait_packet(T.EVENT, "/admin", "config").data[1]
    assert "ALL_EVENTS" in config["supportedFeatures"] and "MJOIN" in config["supportedFeatures"]
    assert peer.wait_packet(T.EVENT, "/admin", "all_sockets").data[1][0]["nsp"] == "/admin"

    user = sio.eio.open()
    user.connect("/")
    sid = user.connected_sid("/")
    connected = peer.wait_for(lambda: [p.data for p in peer.find(T.EVENT, "/admin", "socket_connected")
                                       if p.data[1]["nsp"] == "/"])[0]
    assert connected[1]["id"] == sid and connected[1]["nsp"] == "/" and connected[1]["rooms"] == [sid]
    user.emit("hello", 1, id=1)
    received = peer.wait_packet(T.EVENT, "/admin", "event_received").data
    assert received[1:4] == ["/", sid, ["hello", 1]]
    sio.emit("news", "x", to=sid)
    sent = peer.wait_packet(T.EVENT, "/admin", "event_sent").data
    assert sent[1:4] == ["/", sid, ["news", "x"]]
    sio.enter_room(sid, "r1")
    assert peer.wait_packet(T.EVENT, "/admin", "room_joined").data[1:4] == ["/", "r1", sid]
    stats = peer.wait_for(lambda: [p.data[1] for p in peer.find(T.EVENT, "/admin", "server_stats")
                                   if p.data[1]["clientsCount"] == 2])[-1]
    assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
    assert {"rawConnection", "packetsIn", "bytesOut"} <= {e["type"] for e in
                                                        _all_aggregated(peer)}

    # dashboard commands
    peer.emit("join", "/", "r2", sid, namespace="/admin")
    peer.wait_for(lambda: "r2" in sio.rooms(sid))
    peer.emit("emit", "/", "r2", "from-admin", 7, namespace="/admin")
    assert user.wait_packet(T.EVENT, "/", "from-admin").data == ["from-admin", 7]
    peer.emit("leave", "/", "r2", None, namespace="/admin")
    peer.wait_for(lambda: "r2" not in sio.rooms(sid))
    peer.emit("_disconnect", "/", False, "r1", namespace="/admin")
    user.wait_packet(T.DISCONNECT, "/")
    gone = peer.wait_packet(T.EVENT, "/admin", "socket_disconnected").data
    assert gone[1:4] == ["/", sid, sio.reason.SERVER_DISCONNECT]

    # reconnect with the session id instead of credentials
    again = admin_peer(sio, {"sessionId": session_id})
    again.connected_sid("/admin")


def _all_aggregated(peer):
    out = []
    for p in peer.find(T.EVENT, "/admin", "server_stats"):
        out.extend(p.data[1]["aggregatedEvents"])
    return out


def test_read_only_production_mode(sio):
    sio.instrument(auth=False, read_only=True, mode="production")
    peer = admin_peer(sio, None)
    peer.connected_sid("/admin")
    config = peer.wait_packet(T.EVENT, "/admin", "config").data[1]
    assert config["supportedFeatures"] == ["AGGREGATED_EVENTS"]
    user = sio.eio.open()
    user.connect("/")
    user.connected_sid("/")
    gevent.sleep(0.05)
    assert not peer.find(T.EVENT, "/admin", "socket_connected")
    assert not peer.find(T.EVENT, "/admin", "all_sockets")
