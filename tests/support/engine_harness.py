"""A real Engine.IO echo server in this process, recording every handler call.

``start_engine(handler, **options)`` serves a :class:`siothread.engine.Server`
at ``/engine.io/`` on ``127.0.0.1:0`` and returns an :class:`EngineHarness`:
the server, its port and URLs, what its ``connect`` / ``message`` /
``disconnect`` / ``overflow`` handlers saw, and small raw-protocol helpers.
``handler="siothread"`` (the default) runs :func:`siothread.make_server`;
``handler="geventwebsocket"`` runs gevent's ``pywsgi.WSGIServer`` with
gevent-websocket's ``WebSocketHandler`` (which answers the 101 itself).
Messages are echoed back while ``echo`` is true. ``close()`` stops everything.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, List, Optional, Tuple

import gevent
import requests

import siothread
from siothread.engine import Server

__all__ = ["PATH", "EngineHarness", "start_engine", "wait_until"]

PATH = "engine.io"


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``predicate`` every 10 ms until it is truthy (its value is returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.01)


class EngineHarness:
    """A running Engine.IO server plus what its handlers saw."""

    def __init__(self, eio: Server, wsgi_server: Any) -> None:
        self.eio = eio
        self.wsgi_server = wsgi_server
        self.port: int = wsgi_server.server_port
        self.base = f"http://127.0.0.1:{self.port}/{PATH}/"
        self.ws_base = f"ws://127.0.0.1:{self.port}/{PATH}/"
        self.connects: List[str] = []
        self.messages: List[Tuple[str, Any]] = []
        self.disconnects: List[Tuple[str, str]] = []
        self.overflows: List[Tuple[str, str]] = []
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

    def target(self, transport: str = "polling", sid: Optional[str] = None) -> str:
        """The request target (path and query) for raw requests."""
        return self.url(transport, sid)[len(f"http://127.0.0.1:{self.port}"):]

    # -- raw-protocol helpers ---------------------------------------------------------
    def handshake(self, **headers: str) -> Tuple[str, dict]:
        """Open a polling session on the harness's HTTP session; returns (sid, open packet data)."""
        r = self.http.get(self.url(), headers=headers, timeout=5)
        assert r.status_code == 200, r.text
        assert r.text.startswith("0"), r.text
        data = json.loads(r.text[1:])
        return data["sid"], data

    def new_sid(self, session: Optional[requests.Session] = None) -> str:
        """Open a polling session (on ``session``, or a connection of its own); returns its sid."""
        r = (session or requests).get(self.url(), timeout=5)
        assert r.status_code == 200, r.text
        return str(json.loads(r.text[1:])["sid"])

    # One connection per request, closed by the server after the response: requests
    # otherwise keeps the socket open until the Response is garbage-collected.
    def poll(self, sid: str, timeout: float = 5, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}), Connection="close")
        return requests.get(self.url(sid=sid), timeout=timeout, headers=headers, **kw)

    def post(self, sid: str, body: Any, timeout: float = 5, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}), Connection="close")
        return requests.post(self.url(sid=sid), data=body, timeout=timeout, headers=headers, **kw)

    # -- waiting ----------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        return wait_until(predicate, timeout, what)

    def reasons(self, sid: str) -> List[str]:
        """The reasons session ``sid`` was closed with, so far (one, once it closed)."""
        return [r for s, r in self.disconnects if s == sid]

    def wait_disconnect(self, sid: str, timeout: float = 5.0) -> str:
        """The reason the session ``sid`` was closed with (waits for it)."""
        self.wait_for(lambda: self.reasons(sid), timeout, f"disconnect of {sid}")
        return self.reasons(sid)[0]

    def close(self) -> None:
        self.http.close()
        self.eio.shutdown(timeout=2)
        self.wsgi_server.stop(timeout=2)


def start_engine(handler: str = "siothread", header_timeout: float = 10.0, idle_timeout: float = 30.0,
                 **options: Any) -> EngineHarness:
    """Start an echo server; ``options`` go to :class:`siothread.engine.Server`,
    ``header_timeout`` / ``idle_timeout`` to :func:`siothread.make_server`.

    ``handler``: ``"siothread"`` (:func:`siothread.make_server`), ``"geventwebsocket"``
    (pywsgi with gevent-websocket's handler) or ``"werkzeug"`` (``async_mode='threading'``
    on Werkzeug's threaded server)."""
    eio = Server(async_mode="threading" if handler == "werkzeug" else None, **options)
    app = siothread.WSGIApp(eio, socketio_path=PATH)
    if handler == "siothread":
        wsgi_server = siothread.make_server(app, "127.0.0.1", 0, header_timeout=header_timeout,
                                            idle_timeout=idle_timeout)
    elif handler == "geventwebsocket":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        wsgi_server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=WebSocketHandler, log=None)
    elif handler == "werkzeug":  # the threading runtime on Werkzeug's threaded server
        from threaded_wsgi import WerkzeugServer

        wsgi_server = WerkzeugServer(app)
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

    @eio.on("overflow")
    def on_overflow(sid: str, policy: str) -> None:
        h.overflows.append((sid, policy))

    return h
