"""Every scenario of the Socket.IO v5 protocol test suite, over raw WebSockets.

Re-states ``docs/socket.io-protocol/v5-test-suite/test-suite.js`` ("Socket.IO
protocol" part) in Python against a siothread server configured like the
suite's reference server: ping interval 300 ms, ping timeout 200 ms, and a
short connect timeout; handlers emit ``auth`` on connect, echo ``message``
as ``message-back`` and ``message-with-ack`` as the ack, in ``/`` and ``/custom``.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, List, Union

import pytest
import websocket

import siothread
from siothread.server import Server
from threaded_wsgi import WerkzeugServer

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
CONNECT_TIMEOUT = 1.0


class Suite:
    def __init__(self, mode: str) -> None:
        self.sio = Server(async_mode=mode, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT,
                          connect_timeout=CONNECT_TIMEOUT)
        for ns in ("/", "/custom"):
            self._register(ns)
        app = siothread.WSGIApp(self.sio)
        # threading mode: Werkzeug's threaded server (greenlets here, OS threads in tests/deploy)
        self.wsgi = siothread.make_server(app, "127.0.0.1", 0) if mode == "gevent" else WerkzeugServer(app)
        self.wsgi.start()
        self.url = f"ws://127.0.0.1:{self.wsgi.server_port}/socket.io/?EIO=4&transport=websocket"

    def _register(self, ns: str) -> None:
        sio = self.sio

        @sio.on("connect", namespace=ns)
        def connect(sid: str, environ: dict, auth: dict) -> None:
            sio.emit("auth", auth, to=sid, namespace=ns)

        @sio.on("message", namespace=ns)
        def message(sid: str, *args: Any) -> None:
            sio.emit("message-back", args, to=sid, namespace=ns)

        @sio.on("message-with-ack", namespace=ns)
        def message_with_ack(sid: str, *args: Any) -> Any:
            return args

    def close(self) -> None:
        self.sio.shutdown(timeout=2)
        self.wsgi.stop(timeout=2)


@pytest.fixture(params=["gevent", "threading"])
def suite(request: pytest.FixtureRequest) -> Iterator[Suite]:
    s = Suite(str(request.param))
    yield s
    s.close()


class Peer:
    """A raw WebSocket peer speaking Engine.IO by hand (the suite's ``WebSocket``)."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=3)
        self.sock = self.ws.sock  # websocket-client drops its reference when the peer closes

    def recv(self, skip_pings: bool = False) -> Union[str, bytes]:
        while True:
            data = self.ws.recv()
            if skip_pings and data == "2":
                continue
            return data  # type: ignore[no-any-return]

    def packets(self, count: int) -> List[Union[str, bytes]]:
        """``waitForPackets``: the next ``count`` messages, pings ignored."""
        return [self.recv(skip_pings=True) for _ in range(count)]

    def send(self, data: Union[str, bytes]) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def wait_close(self, timeout: float = 3.0) -> None:
        """Read until the server closes the connection."""
        self.ws.settimeout(timeout)
        try:
            while True:
                data = self.ws.recv()
                if data == "" or data is None:
                    return
        except (websocket.WebSocketConnectionClosedException, ConnectionResetError, BrokenPipeError):
            return

    def close(self) -> None:
        try:
            self.ws.close(timeout=0.2)
        except (OSError, websocket.WebSocketException):
            pass
        self.sock.close()


@pytest.fixture
def peers(suite: Suite) -> Iterator[Any]:
    opened: List[Peer] = []

    def make() -> Peer:
        p = Peer(suite.url)
        opened.append(p)
        return p

    yield make
    for p in opened:
        p.close()


def handshake(peer: Peer) -> dict:
    data = peer.recv()
    assert isinstance(data, str) and data.startswith("0")
    return json.loads(data[1:])  # type: ignore[no-any-return]


def init_socketio_connection(peers: Any) -> Peer:
    """``initSocketIOConnection``: EIO handshake, ``40``, the CONNECT ack and the ``auth`` event."""
    peer = peers()
    handshake(peer)
    peer.send("40")
    assert peer.recv().startswith("40")
    assert peer.recv() == '42["auth",{}]'
    return peer


# -- connect ---------------------------------------------------------------------


def test_should_allow_connection_to_the_main_namespace(peers):
    peer = peers()
    handshake(peer)
    peer.send("40")
    data = peer.recv()
    assert data.startswith("40")
    ack = json.loads(data[2:])
    assert list(ack) == ["sid"] and isinstance(ack["sid"], str)
    assert peer.recv() == '42["auth",{}]'


def test_should_allow_connection_to_the_main_namespace_with_a_payload(peers):
    peer = peers()
    handshake(peer)
    peer.send('40{"token":"123"}')
    data = peer.recv()
    assert data.startswith("40") and list(json.loads(data[2:])) == ["sid"]
    assert peer.recv() == '42["auth",{"token":"123"}]'


def test_should_allow_connection_to_a_custom_namespace(peers):
    peer = peers()
    handshake(peer)
    peer.send("40/custom,")
    data = peer.recv()
    assert data.startswith("40/custom,")
    assert list(json.loads(data[10:])) == ["sid"]
    assert peer.recv() == '42/custom,["auth",{}]'


def test_should_allow_connection_to_a_custom_namespace_with_a_payload(peers):
    peer = peers()
    handshake(peer)
    peer.send('40/custom,{"token":"abc"}')
    data = peer.recv()
    assert data.startswith("40/custom,") and list(json.loads(data[10:])) == ["sid"]
    assert peer.recv() == '42/custom,["auth",{"token":"abc"}]'


def test_should_disallow_connection_to_an_unknown_namespace(peers):
    peer = peers()
    handshake(peer)
    peer.send("40/random")
    assert peer.recv() == '44/random,{"message":"Invalid namespace"}'
    # the Engine.IO session is kept: the main namespace still accepts
    peer.send("40")
    assert peer.recv(skip_pings=True).startswith("40")


def test_should_disallow_connection_with_an_invalid_handshake(peers):
    peer = peers()
    handshake(peer)
    peer.send("4abc")
    peer.wait_close()


def test_should_close_the_connection_if_no_handshake_is_received(peers):
    peer = peers()
    handshake(peer)
    peer.wait_close(timeout=CONNECT_TIMEOUT + 2)


# -- disconnect ------------------------------------------------------------------


def test_should_disconnect_from_the_main_namespace(peers):
    peer = init_socketio_connection(peers)
    peer.send("41")
    assert peer.recv() == "2"


def test_should_connect_then_disconnect_from_a_custom_namespace(peers):
    peer = init_socketio_connection(peers)
    assert peer.recv() == "2"  # ping
    peer.send("3")
    peer.send("40/custom")
    assert peer.recv().startswith("40/custom,")
    assert peer.recv() == '42/custom,["auth",{}]'
    peer.send("41/custom")
    peer.send('42["message","message to main namespace"]')
    assert peer.recv(skip_pings=True) == '42["message-back","message to main namespace"]'


# -- message ---------------------------------------------------------------------


def test_should_send_a_plain_text_packet(peers):
    peer = init_socketio_connection(peers)
    peer.send('42["message",1,"2",{"3":[true]}]')
    assert peer.recv(skip_pings=True) == '42["message-back",1,"2",{"3":[true]}]'


def test_should_send_a_packet_with_binary_attachments(peers):
    peer = init_socketio_connection(peers)
    peer.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    peer.send(bytes([1, 2, 3]))
    peer.send(bytes([4, 5, 6]))
    packets = peer.packets(3)
    assert packets[0] == '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert packets[1] == bytes([1, 2, 3])
    assert packets[2] == bytes([4, 5, 6])


def test_should_send_a_plain_text_packet_with_an_ack(peers):
    peer = init_socketio_connection(peers)
    peer.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    assert peer.recv(skip_pings=True) == '43456[1,"2",{"3":[false]}]'


def test_should_send_a_packet_with_binary_attachments_and_an_ack(peers):
    peer = init_socketio_connection(peers)
    peer.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    peer.send(bytes([1, 2, 3]))
    peer.send(bytes([4, 5, 6]))
    packets = peer.packets(3)
    assert packets[0] == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert packets[1:] == [bytes([1, 2, 3]), bytes([4, 5, 6])]


@pytest.mark.parametrize("raw", [
    "4abc",  # unknown packet type
    "42{}",  # invalid payload format
    '42abc["message-with-ack",1,"2",{"3":[false]}]',  # invalid ack id
])
def test_should_close_the_connection_upon_invalid_format(peers, raw):
    peer = init_socketio_connection(peers)
    peer.send(raw)
    peer.wait_close()


# -- beyond the suite: the reserved-name guard (gap G1) and namespace flooding (S2) --


@pytest.mark.parametrize("name", ["connect", "disconnect", "disconnecting", "connect_error"])
def test_reserved_event_names_close_the_connection(peers, name):
    peer = init_socketio_connection(peers)
    peer.send('42["%s","forged"]' % name)
    peer.wait_close()


def test_connecting_to_too_many_namespaces_closes(peers):
    peer = peers()
    handshake(peer)
    for i in range(16):
        peer.send(f"40/n{i},")
        assert peer.recv(skip_pings=True) == f'44/n{i},{{"message":"Invalid namespace"}}'
    peer.send("40/n16,")
    peer.wait_close()
