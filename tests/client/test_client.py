"""siothread.client.Client against real servers (Node socket.io 4.8 and siothread).

Every test runs once per server implementation (see ``conftest.servers``).
"""
from __future__ import annotations

import threading
import time
from typing import Any, List

import pytest
from client_helpers import TRANSPORTS, client_kwargs, wait_for

from siothread.client import Client
from siothread.errors import ConnectionError, DisconnectedError, TimeoutError


@pytest.fixture
def make_client():
    """``make_client(**options)``: a Client disconnected at teardown."""
    clients: List[Client] = []

    def make(**overrides: Any) -> Client:
        c = Client(**client_kwargs(**overrides))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.disconnect()


@pytest.mark.parametrize("transports", TRANSPORTS, ids="+".join)
def test_transports(server, make_client, transports):
    c = make_client()
    c.connect(server.url, transports=list(transports))
    expected = "polling" if transports == ("polling",) else "websocket"
    assert c.transport() == expected
    info = c.call("whoami", timeout=5)
    assert info["sid"] == c.sid
    assert info["transport"] == expected
    assert info["query"]["transport"] == transports[0]
    c.disconnect()
    assert not c.connected
    assert c.transport() is None and c.sid is None


def test_path_headers_query_auth(servers, make_client):
    srv = servers["path"]
    c = make_client()
    c.connect(srv.url + "?room=blue&n=1", headers={"X-Test-Header": "hello"},
              auth={"token": "t0"}, socketio_path="custom/path", transports=["polling"])
    info = c.call("whoami", timeout=5)
    assert info["header"] == "hello"
    assert info["query"]["room"] == "blue" and info["query"]["n"] == "1"
    assert info["auth"] == {"token": "t0"}


def test_auth_callable_called_on_each_connection(servers, make_client):
    srv = servers["default"]
    calls: List[int] = []

    def auth():
        calls.append(1)
        return {"n": len(calls)}

    c = make_client()
    c.connect(srv.url, auth=auth, transports=["websocket"])
    assert c.call("whoami", timeout=5)["auth"] == {"n": 1}
    c.emit("drop_me")
    assert wait_for(lambda: len(calls) == 2 and c.connected)
    assert c.call("whoami", timeout=5)["auth"] == {"n": 2}


def test_namespaces_share_one_connection(server, make_client):
    c = make_client()
    seen: List[str] = []
    c.on("connect", lambda: seen.append("/"))
    c.on("connect", lambda: seen.append("/admin"), namespace="/admin")
    c.connect(server.url, namespaces=["/", "/admin"])
    main = c.call("whoami", timeout=5)
    admin = c.call("whoami", namespace="/admin", timeout=5)
    assert main["nsp"] == "/" and admin["nsp"] == "/admin"
    assert main["sid"] != admin["sid"]
    assert main["conn"] == admin["conn"]  # one Engine.IO connection
    assert c.namespaces == {"/": main["sid"], "/admin": admin["sid"]}
    assert c.get_sid("/admin") == admin["sid"]
    assert wait_for(lambda: sorted(seen) == ["/", "/admin"])


def test_connect_error_carries_message_and_data(servers, make_client):
    srv = servers["token"]
    c = make_client()
    errors: List[Any] = []
    c.on("connect_error", errors.append)
    with pytest.raises(ConnectionError) as info:
        c.connect(srv.url, auth={"token": "wrong"}, retry=True)  # a refusal is not retried
    assert info.value.message == "unauthorized"
    assert info.value.data == {"reason": "bad token", "got": "wrong"}
    assert not c.connected
    assert wait_for(lambda: errors == [{"message": "unauthorized",
                                        "data": {"reason": "bad token", "got": "wrong"}}])
    c.connect(srv.url, auth={"token": "sesame"})
    assert c.connected


def test_unknown_namespace_is_refused(server, make_client):
    c = make_client()
    with pytest.raises(ConnectionError) as info:
        c.connect(server.url, namespaces=["/nope"])
    assert info.value.message == "Invalid namespace"


def test_connect_timeout_when_unreachable(make_client):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = make_client()
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        c.connect(f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 3


def test_events_catch_all_emit_send(server, make_client):
    c = make_client()
    got: List[Any] = []
    c.on("echo", lambda *args: got.append(("echo", args)))
    c.on("*", lambda event, *args: got.append(("*", event, args)))
    c.on("message", lambda *args: got.append(("message", args)))

    @c.event
    def connect():
        got.append("connect")

    c.connect(server.url)
    c.emit("emit_to_me", ("echo", "a", 1, {"b": [True, None]}))
    c.emit("emit_to_me", ("surprise", "x"))
    c.send("hi")
    acked: List[Any] = []
    c.emit("echo", (1, 2), callback=lambda *args: acked.append(args))
    assert wait_for(lambda: len(got) == 4 and acked)
    assert got == ["connect", ("echo", ("a", 1, {"b": [True, None]})),
                   ("*", "surprise", ("x",)), ("message", ("hi",))]
    assert acked == [(1, 2)]


def test_catch_all_namespace(server, make_client):
    c = make_client()
    got: List[Any] = []
    c.on("*", lambda event, ns, *args: got.append((event, ns, args)), namespace="*")
    c.connect(server.url, namespaces=["/", "/admin"])
    c.emit("emit_to_me", ("one", 1), namespace="/admin")
    assert wait_for(lambda: got == [("one", "/admin", (1,))])


def test_call_results(server, make_client):
    c = make_client()
    c.connect(server.url)
    assert c.call("echo", timeout=5) is None
    assert c.call("echo", "one", timeout=5) == "one"
    assert c.call("echo", ("a", "b"), timeout=5) == ("a", "b")
    assert c.call("echo", ["a", "b"], timeout=5) == ["a", "b"]


def test_binary_any_depth_both_directions(server, make_client):
    c = make_client()
    received: List[Any] = []
    c.on("bin", lambda *args: received.append(args))
    c.on("question", lambda a, b: {"sum": a + b, "raw": [b"\x00\x01", {"deep": b"\xff"}]})
    c.connect(server.url)
    payload = ({"a": [b"\x00" * 3, {"b": b"\xfe\xff"}]}, b"top", [1, [2, [b"x"]]])
    assert c.call("echo", payload, timeout=5) == payload
    c.emit("emit_to_me", ("bin",) + payload)
    assert wait_for(lambda: received == [payload])
    answer = c.call("call_me", ("question", [2, 3]), timeout=5)
    assert answer == [{"sum": 5, "raw": [b"\x00\x01", {"deep": b"\xff"}]}]


def test_handler_may_call_server(server, make_client):
    c = make_client()
    results: List[Any] = []

    @c.on("ping_me")
    def ping_me(n):
        results.append(c.call("echo", n + 1, timeout=5))

    c.connect(server.url)
    c.emit("emit_to_me", ("ping_me", 41))
    assert wait_for(lambda: results == [42])


def test_call_timeout_when_server_never_acks(server, make_client):
    c = make_client()
    c.connect(server.url)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        c.call("never_ack", "x", timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.0
    assert c.connected  # a missing ack does not end the connection
    assert c.call("echo", 1, timeout=5) == 1


def test_call_raises_disconnected_when_connection_drops(servers, make_client):
    srv = servers["default"]
    c = make_client(reconnection=False)
    c.connect(srv.url, transports=["websocket"])
    threading.Timer(0.2, lambda: c.emit("drop_me")).start()
    started = time.monotonic()
    with pytest.raises(DisconnectedError):
        c.call("never_ack", timeout=10)
    assert time.monotonic() - started < 3
    c.wait()  # no reconnection: wait() returns
    with pytest.raises(DisconnectedError):
        c.emit("echo", 1)


def test_reserved_event_names_are_refused(server, make_client):
    c = make_client()
    c.connect(server.url)
    for name in ("connect", "disconnect", "connect_error"):
        with pytest.raises(ValueError):
            c.emit(name)


@pytest.mark.parametrize("transports", TRANSPORTS, ids="+".join)
def test_reconnects_after_server_drops_connection(servers, make_client, transports):
    srv = servers["default"]
    c = make_client()
    events: List[Any] = []
    c.on("connect", lambda: events.append("connect"))
    c.on("disconnect", lambda reason: events.append(("disconnect", reason)))
    c.connect(srv.url, transports=list(transports))
    first = c.sid
    c.emit("drop_me")
    assert wait_for(lambda: events == ["connect", ("disconnect", "transport close"), "connect"])
    assert c.connected and c.sid != first
    assert c.call("echo", "again", timeout=5) == "again"


def test_server_disconnect_does_not_reconnect(server, make_client):
    c = make_client()
    reasons: List[str] = []
    c.on("disconnect", reasons.append)
    c.connect(server.url)
    c.emit("server_disconnect")
    c.wait()
    assert reasons == [Client.reason.SERVER_DISCONNECT]
    assert not c.connected
    time.sleep(0.2)
    assert not c.connected


def test_disconnect_handler_without_reason_argument(server, make_client):
    c = make_client()
    calls: List[int] = []

    @c.event
    def disconnect():
        calls.append(1)

    c.connect(server.url)
    c.disconnect()
    assert wait_for(lambda: calls == [1])


def test_connection_state_recovery(servers, make_client):
    srv = servers["recovery"]
    c = make_client()
    events: List[Any] = []
    c.on("connect", lambda: events.append(("connect", c.recovered)))
    c.on("missed", lambda i: events.append(("missed", i)))
    c.on("hello", lambda *args: events.append(("hello", args)))
    c.connect(srv.url, transports=["websocket"])
    assert not c.recovered
    sid = c.sid
    # One event with an offset must have arrived: recovery resumes from it.
    c.emit("emit_to_me", ("hello", "world"))
    assert wait_for(lambda: ("hello", ("world",)) in events)
    c.emit("drop_me", 3)
    assert wait_for(lambda: len(events) == 6)
    # connect first, then the missed events in order, offsets removed.
    assert events == [("connect", False), ("hello", ("world",)), ("connect", True),
                      ("missed", 0), ("missed", 1), ("missed", 2)]
    assert c.recovered and c.sid == sid
    c.disconnect()
    c.connect(srv.url, transports=["websocket"])
    assert not c.recovered  # an explicit disconnect starts a new session


def test_retry_on_first_connect(servers, make_client):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    errors: List[Any] = []
    c = make_client(reconnection_delay=0.1, reconnection_delay_max=0.1)
    c.on("connect_error", errors.append)
    srv_box: List[Any] = []
    starter = threading.Timer(0.5, lambda: srv_box.append(servers.fresh(port=port)))
    starter.start()
    try:
        c.connect(f"http://127.0.0.1:{port}", retry=True, transports=["websocket"])
        assert c.connected
        assert c.call("echo", 5, timeout=5) == 5
        assert errors  # each failed attempt reported connect_error
    finally:
        starter.join()
        c.disconnect()
        for srv in srv_box:
            srv.stop()


def test_gives_up_after_reconnection_attempts(servers, make_client):
    srv = servers.fresh(namespaces=["/"])
    c = make_client(reconnection_attempts=3, reconnection_delay=0.05, reconnection_delay_max=0.05)
    errors: List[Any] = []
    reasons: List[str] = []
    c.on("connect_error", errors.append)
    c.on("disconnect", reasons.append)
    c.connect(srv.url, transports=["websocket"])
    srv.stop()
    started = time.monotonic()
    c.wait()
    assert time.monotonic() - started < 5
    assert reasons == ["transport close"]
    assert wait_for(lambda: len(errors) == 3)
    assert not c.connected


def test_retry_gives_up_too(make_client):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = make_client(reconnection_attempts=2)
    with pytest.raises(ConnectionError):
        c.connect(f"http://127.0.0.1:{port}", retry=True)
    assert not c.connected


@pytest.mark.parametrize("transports", (("polling",), ("websocket",)), ids="+".join)
def test_dead_server_detected_by_heartbeat(servers, make_client, transports):
    srv = servers["heartbeat"]
    c = make_client()
    events: List[Any] = []
    c.on("connect", lambda: events.append("connect"))
    c.on("disconnect", lambda reason: events.append(("disconnect", reason, time.monotonic())))
    c.connect(srv.url, transports=list(transports))
    time.sleep(0.7)  # longer than interval + timeout: PINGs are being answered
    assert events == ["connect"]
    started = time.monotonic()
    c.emit("freeze", 1500)
    assert wait_for(lambda: len(events) >= 2, timeout=3)
    assert events[1][:2] == ("disconnect", "ping timeout")
    assert events[1][2] - started < 1.2  # within pingInterval + pingTimeout (+ slack)
    assert wait_for(lambda: events[-1] == "connect" and c.connected, timeout=5)
    assert c.call("echo", 1, timeout=5) == 1


def test_wait_returns_after_disconnect_from_handler(server, make_client):
    c = make_client()

    @c.on("bye")
    def bye():
        c.disconnect()

    c.connect(server.url)
    c.emit("emit_to_me", "bye")
    c.wait()
    assert not c.connected


def test_connect_twice_is_refused(server, make_client):
    c = make_client()
    c.connect(server.url)
    with pytest.raises(ConnectionError):
        c.connect(server.url)


def test_bad_url_and_auth_are_reported_and_leave_no_thread(server, make_client):
    c = make_client()
    with pytest.raises(ValueError):
        c.connect("ftp://127.0.0.1:1")
    with pytest.raises(TypeError):
        c.connect(server.url, auth=lambda: "not a dict")
    c.connect(server.url, auth={"ok": True})
    assert c.connected


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError):
        Client(reconection=True)  # type: ignore[call-arg]
