"""Fixtures for integration tests of the Engine.IO server on real sockets.

``engine_server(**options)`` starts an in-process server on ``127.0.0.1:0``
serving an echo :class:`siothread.engine.Server` at ``/engine.io/`` and returns
an :class:`EngineHarness` with the recorded events. ``handler="siothread"``
(the default) runs :func:`siothread.make_server`; ``handler="geventwebsocket"``
runs gevent's ``pywsgi.WSGIServer`` with gevent-websocket's
``WebSocketHandler``; ``suite_server`` runs on each. Everything started is stopped
at teardown.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import gevent
import pytest
import requests

import siothread
from siothread.engine import Server

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # eio_helpers (the suite runs with --import-mode=importlib)

PATH = "engine.io"

# The official v4 test suite's timings.
SUITE_OPTIONS = dict(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=1_000_000)


class EngineHarness:
    """A running server plus what its handlers saw."""

    def __init__(self, eio: Server, wsgi_server: Any) -> None:
        self.eio = eio
        self.wsgi_server = wsgi_server
        self.port: int = wsgi_server.server_port
        self.base = f"http://127.0.0.1:{self.port}/{PATH}/"
        self.ws_base = f"ws://127.0.0.1:{self.port}/{PATH}/"
        self.connects: List[str] = []
        self.messages: List[Tuple[str, Any]] = []
        self.disconnects: List[Tuple[str, str]] = []
        self.echo = True
        self.http = requests.Session()

    # -- URLs -------------------------------------------------------------------------
    def url(self, transport: str = "polling", sid: Optional[str] = None, **extra: str) -> str:
        q = f"EIO=4&transport={transport}"
        if sid is not None:
            q += f"&sid={sid}"
        for k, v in extra.items():
            q += f"&{k}={v}"
        return self.base + "?" + q

    def ws_url(self, sid: Optional[str] = None) -> str:
        q = "EIO=4&transport=websocket"
        if sid is not None:
            q += f"&sid={sid}"
        return self.ws_base + "?" + q

    # -- raw-protocol helpers ---------------------------------------------------------
    def handshake(self, **headers: str) -> Tuple[str, dict]:
        """Open a polling session; returns (sid, open packet data)."""
        r = self.http.get(self.url(), headers=headers, timeout=5)
        assert r.status_code == 200, r.text
        assert r.text.startswith("0"), r.text
        data = json.loads(r.text[1:])
        return data["sid"], data

    # One connection per request, closed by the server after the response: requests
    # otherwise keeps the socket open until the Response is garbage-collected.
    def poll(self, sid: str, timeout: float = 5, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}), Connection="close")
        return requests.get(self.url(sid=sid), timeout=timeout, headers=headers, **kw)

    def post(self, sid: str, body: Any, timeout: float = 5, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}), Connection="close")
        return requests.post(self.url(sid=sid), data=body, timeout=timeout, headers=headers, **kw)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            gevent.sleep(0.01)

    def wait_disconnect(self, sid: str, timeout: float = 3.0) -> str:
        """The reason the session ``sid`` was closed with (waits for it)."""
        def found() -> Optional[str]:
            for s, reason in self.disconnects:
                if s == sid:
                    return reason
            return None
        return str(self.wait_for(found, timeout, f"disconnect of {sid}"))

    def close(self) -> None:
        self.http.close()
        self.eio.shutdown(timeout=2)
        self.wsgi_server.stop(timeout=2)


def start_engine(handler: str = "siothread", app_wrapper: Optional[Callable[[Any], Any]] = None,
                 **options: Any) -> EngineHarness:
    eio = Server(**options)
    app = siothread.WSGIApp(eio, socketio_path=PATH)
    if app_wrapper is not None:
        app = app_wrapper(app)
    if handler == "siothread":
        wsgi_server = siothread.make_server(app, "127.0.0.1", 0)
    elif handler == "geventwebsocket":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        wsgi_server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=WebSocketHandler, log=None)
    else:  # pragma: no cover
        raise ValueError(handler)
    wsgi_server.start()
    h = EngineHarness(eio, wsgi_server)

    @eio.on("connect")
    def on_connect(sid: str, environ: dict) -> None:
        h.connects.append(sid)

    @eio.on("message")
    def on_message(sid: str, data: Any) -> None:
        h.messages.append((sid, data))
        if h.echo:
            eio.send(sid, data)

    @eio.on("disconnect")
    def on_disconnect(sid: str, reason: str) -> None:
        h.disconnects.append((sid, reason))

    return h


@pytest.fixture
def engine_server() -> Iterator[Callable[..., EngineHarness]]:
    started: List[EngineHarness] = []

    def factory(handler: str = "siothread", **options: Any) -> EngineHarness:
        h = start_engine(handler, **options)
        started.append(h)
        return h

    yield factory
    for h in started:
        h.close()


@pytest.fixture(params=["siothread", "geventwebsocket"])
def ws_handler(request: pytest.FixtureRequest) -> str:
    """Each pywsgi handler that can carry WebSockets."""
    return str(request.param)


@pytest.fixture
def suite_server(engine_server: Callable[..., EngineHarness], ws_handler: str) -> EngineHarness:
    """The server configured like the official v4 test suite expects, under siothread's
    own server and under pywsgi with gevent-websocket's handler."""
    return engine_server(ws_handler, **SUITE_OPTIONS)
