"""SimpleClient, the msgpack serializer and the backoff policy."""
from __future__ import annotations

import time

import pytest
from client_helpers import client_kwargs, wait_for

from siothread.client import Client, SimpleClient
from siothread.client._backoff import Backoff
from siothread.errors import DisconnectedError, TimeoutError


def test_simple_client_round_trip(server):
    with SimpleClient(**client_kwargs()) as sc:
        sc.connect(server.url, namespace="/admin")
        assert sc.connected and sc.sid and sc.transport == "websocket"
        sc.emit("emit_to_me", ("first", 1))
        sc.emit("emit_to_me", ("second", {"b": b"\x01"}))
        sc.emit("message", "third")
        assert sc.receive(timeout=5) == ["first", 1]
        assert sc.receive(timeout=5) == ["second", {"b": b"\x01"}]
        assert sc.receive(timeout=5) == ["message", "third"]
        assert sc.call("echo", ("x", b"y"), timeout=5) == ("x", b"y")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            sc.receive(timeout=0.2)
        with pytest.raises(TimeoutError):
            sc.call("never_ack", timeout=0.2)
        assert time.monotonic() - started < 1.0
    assert not sc.connected
    with pytest.raises(DisconnectedError):
        sc.receive(timeout=1)
    with pytest.raises(DisconnectedError):
        sc.emit("echo", 1)


def test_simple_client_waits_for_reconnection(servers):
    srv = servers["default"]
    with SimpleClient(**client_kwargs(reconnection_delay=0.5, reconnection_delay_max=0.5)) as sc:
        sc.connect(srv.url, transports=["websocket"])
        first = sc.sid
        sc.emit("drop_me")
        assert wait_for(lambda: not sc.connected)
        # While reconnecting, emit and call wait for the connection instead of failing.
        sc.emit("emit_to_me", ("back", 1))
        assert sc.call("echo", "after", timeout=5) == "after"
        assert sc.receive(timeout=5) == ["back", 1]
        assert sc.sid != first


def test_simple_client_server_disconnect_ends_receive(server):
    with SimpleClient(**client_kwargs()) as sc:
        sc.connect(server.url)
        sc.emit("server_disconnect")
        started = time.monotonic()
        with pytest.raises(DisconnectedError):
            sc.receive(timeout=5)
        assert time.monotonic() - started < 2


@pytest.mark.parametrize("transports", (["polling"], ["websocket"]), ids="+".join)
def test_msgpack_serializer(servers, transports):
    srv = servers["msgpack"]
    c = Client(**client_kwargs(serializer="msgpack"))
    got = []
    c.on("bin", lambda *args: got.append(args))
    try:
        c.connect(srv.url, transports=transports, namespaces=["/", "/admin"], auth={"k": b"v"})
        payload = ({"a": [b"\x00\xff", 1.5, None]}, b"raw")
        assert c.call("echo", payload, timeout=5) == payload
        assert c.call("echo", "x", namespace="/admin", timeout=5) == "x"
        c.emit("emit_to_me", ("bin",) + payload)
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == [payload]
    finally:
        c.disconnect()


def test_backoff_doubles_up_to_the_cap():
    b = Backoff(1, 5, 0)
    assert [b.duration() for _ in range(5)] == [1, 2, 4, 5, 5]
    b.reset()
    assert b.duration() == 1


def test_backoff_jitter_stays_within_the_factor():
    draws = iter([0.0, 0.15, 0.99, 0.25])
    b = Backoff(1, 100, 0.5, rand=lambda: next(draws))
    # backo2: an even tenth subtracts, an odd one adds, rand * factor * base.
    assert b.duration() == 1.0                 # r=0.0: no deviation
    assert b.duration() == 2 + 0.15 * 0.5 * 2  # r=0.15: int(1.5)=1, odd: add
    assert b.duration() == 4 + 0.99 * 0.5 * 4  # r=0.99: int(9.9)=9, odd: add
    assert b.duration() == 8 - 0.25 * 0.5 * 8  # r=0.25: int(2.5)=2, even: subtract


def test_backoff_many_attempts_do_not_overflow():
    b = Backoff(0.5, 3, 0.5)
    for _ in range(5000):
        assert 0 <= b.duration() <= 3


@pytest.mark.parametrize("bad", [dict(randomization_factor=1.5), dict(reconnection_delay=-1),
                                 dict(reconnection_attempts=-1), dict(serializer="xml")])
def test_invalid_options(bad):
    with pytest.raises(ValueError):
        Client(handle_sigint=False, **bad)
