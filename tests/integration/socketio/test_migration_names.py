"""Every python-socketio name a sync application uses is accepted (docs/migration.md, the table).

Each test uses the name the way a python-socketio application does and checks the
behaviour with a real client against a real server.
"""
import logging
import threading

import gevent
import pytest
import requests

import siothread as socketio
from siothread import errors
from siothread.engine.modes import ASYNC_MODES


@pytest.mark.parametrize("mode", [None, "gevent", "gevent_uwsgi"])
def test_async_mode_is_accepted_and_reported(mode):
    sio = socketio.Server(async_mode=mode)
    # this test process runs under gevent's monkey-patching: None picks gevent
    assert sio.async_mode == (mode or "gevent")
    assert sio.eio.async_mode == sio.async_mode


@pytest.mark.parametrize("mode", ["eventlet", "asyncio", "bogus"])
def test_unsupported_async_mode_fails_at_construction_naming_the_modes(mode):
    with pytest.raises(ValueError) as info:
        socketio.Server(async_mode=mode)
    text = str(info.value)
    assert repr(mode) in text
    for supported in ASYNC_MODES:
        assert repr(supported) in text
    if mode == "eventlet":
        assert "eventlet" in text and "blocks" in text


def test_monitor_clients_is_accepted():
    assert socketio.Server(monitor_clients=False).async_mode == "gevent"


def test_server_attributes_apps_read(sio_app):
    def setup(sio, app):
        @sio.event
        def connect(sid, environ, auth):
            app.connects.append(("/", sid, auth))

        @sio.on("hello", namespace="/chat")
        def hello(sid):
            return "hi"

        class Chat(socketio.Namespace):
            def on_ping(self, sid):
                return "pong"

        sio.register_namespace(Chat("/ns"))

    app = sio_app(setup=setup)
    sio = app.sio
    assert set(sio.handlers) == {"/", "/chat"}
    assert set(sio.handlers["/"]) == {"connect"} and set(sio.handlers["/chat"]) == {"hello"}
    assert list(sio.namespace_handlers) == ["/ns"]
    assert sio.manager is not None and sio.reason.CLIENT_DISCONNECT == "client namespace disconnect"
    client = socketio.SimpleClient()
    client.connect(app.url, transports=["polling"], headers={"X-Probe": "yes"})
    try:
        environs = list(sio.environ.values())
        assert len(sio.environ) == 1 and environs[0]["HTTP_X_PROBE"] == "yes"
        eio_sid = next(iter(sio.environ))
        assert sio.eio.is_connected(eio_sid)
        # a client that sent no auth: the handler gets {} (Node's value), see docs/migration.md
        assert app.connects[0][2] == {}
    finally:
        client.disconnect()


def test_middleware_and_python_socketio_wsgiapp_argument_order(tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<p>page</p>")

    def other(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"other"]

    sio = socketio.Server()
    for app in (socketio.Middleware(sio, other, "custom.io"),
                socketio.WSGIApp(sio, other, {"/": str(page)}, "custom.io")):
        server = socketio.make_server(app, "127.0.0.1", 0)
        server.start()
        try:
            base = f"http://127.0.0.1:{server.server_port}"
            r = requests.get(base + "/custom.io/?EIO=4&transport=polling", timeout=5)
            assert r.status_code == 200 and r.text.startswith("0{")
            body = requests.get(base + "/", timeout=5).text
            assert body == ("other" if isinstance(app, socketio.Middleware) else "<p>page</p>")
        finally:
            server.stop(timeout=2)


def test_exceptions_module_has_python_socketio_names():
    ex = socketio.exceptions
    for name in ("SocketIOError", "ConnectionError", "ConnectionRefusedError", "TimeoutError",
                 "BadNamespaceError", "DisconnectedError"):
        assert issubclass(getattr(ex, name), ex.SocketIOError)
    assert issubclass(ex.ConnectionRefusedError, ex.ConnectionError)
    refused = ex.ConnectionRefusedError("no", {"why": 1})
    assert refused.error_args() == {"message": "no", "data": {"why": 1}}
    assert ex.ConnectionRefusedError is socketio.ConnectionRefusedError


def test_client_accepts_python_socketio_options_and_namespaces(sio_app, caplog):
    def setup(sio, app):
        @sio.event
        def connect(sid, environ, auth):
            sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)

        @sio.on("ping_from_client", namespace="/latency")
        def ping(sid):
            sio.emit("pong_from_server", to=sid, namespace="/latency")

        @sio.on("ask", namespace="/latency")
        def ask(sid, x):
            return x * 2

    app = sio_app(setup=setup)
    session = requests.Session()
    got = []
    done = threading.Event()

    class Latency(socketio.ClientNamespace):
        def on_connect(self):
            got.append("connect")
            self.emit("ping_from_client")

        def on_pong_from_server(self):
            got.append("pong")
            done.set()

    client = socketio.Client(logger=False, engineio_logger=True, ssl_verify=False, http_session=session,
                             websocket_extra_options={"timeout": 5}, timestamp_requests=False,
                             reconnection=False)
    assert client.engineio_logger.name == "siothread.client.engine"
    client.register_namespace(Latency("/latency"))
    hello = []
    client.on("hello", lambda a, b, c: hello.append((a, b, c)))
    with caplog.at_level(logging.INFO, logger="siothread.client.engine"):
        client.connect(app.url, namespaces=["/", "/latency"])
    try:
        assert done.wait(5)
        assert got == ["connect", "pong"]
        assert client.call("ask", 21, namespace="/latency", timeout=5) == 42
        ticks = []
        task = client.start_background_task(lambda n: [ticks.append(i) or client.sleep(0.01) for i in range(n)], 3)
        task.join(5)
        assert ticks == [0, 1, 2]
        deadline = gevent.get_hub().loop.now() + 5
        while not hello and gevent.get_hub().loop.now() < deadline:
            gevent.sleep(0.05)
        assert hello == [(1, 2, {"hello": "you"})]
        with pytest.raises(socketio.exceptions.BadNamespaceError):
            client.emit("x", namespace="/nowhere")
    finally:
        client.disconnect()
    assert any(r.name == "siothread.client.engine" for r in caplog.records)


def test_simple_client_accepts_python_socketio_options(sio_app):
    def setup(sio, app):
        @sio.event
        def connect(sid, environ, auth):
            sio.emit("hello", auth, to=sid)

    app = sio_app(setup=setup)
    with socketio.SimpleClient(engineio_logger=False, ssl_verify=True, http_session=requests.Session(),
                               websocket_extra_options={}) as client:
        client.connect(app.url, auth={"token": "my-token"})
        assert client.receive(timeout=5) == ["hello", {"token": "my-token"}]
