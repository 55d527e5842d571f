"""Fixtures for integration tests of the Engine.IO server on real sockets.

``engine_server(handler="siothread", **options)`` starts the shared echo server
of :mod:`tests.support.engine_harness` and returns its
:class:`~tests.support.engine_harness.EngineHarness` with the recorded events;
``suite_server`` is configured like the official v4 test suite expects, under each handler;
``ws_handler`` runs a test under each pywsgi handler that can carry WebSockets.
``handler="werkzeug"`` builds the server with ``async_mode='threading'`` and serves it with
Werkzeug's threaded server (in this monkey-patched process Werkzeug's threads are greenlets;
the deploy tests run it on OS threads).
Everything started is stopped at teardown.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from tests.support.engine_harness import EngineHarness, start_engine

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # eio_helpers (the suite runs with --import-mode=importlib)

# The official v4 test suite's timings.
SUITE_OPTIONS = dict(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=1_000_000)


@pytest.fixture
def engine_server() -> Iterator[Callable[..., EngineHarness]]:
    started: List[EngineHarness] = []

    def factory(handler: str = "siothread", **options: object) -> EngineHarness:
        h = start_engine(handler, **options)
        started.append(h)
        return h

    yield factory
    for h in started:
        h.close()


@pytest.fixture
def suite_server(engine_server: Callable[..., EngineHarness], ws_handler: str) -> EngineHarness:
    """The server configured like the official v4 test suite expects, under siothread's own
    server, pywsgi with gevent-websocket's handler, and Werkzeug in threading mode."""
    return engine_server(ws_handler, **SUITE_OPTIONS)


@pytest.fixture(params=["siothread", "geventwebsocket", "werkzeug"])
def ws_handler(request: pytest.FixtureRequest) -> str:
    """Each server that can carry WebSockets (Werkzeug: the threading runtime)."""
    return str(request.param)


@pytest.fixture
def suite_server(engine_server: Callable[..., EngineHarness], ws_handler: str) -> EngineHarness:
    """The server configured like the official v4 test suite expects, under siothread's
    own server and under pywsgi with gevent-websocket's handler."""
    return engine_server(ws_handler, **SUITE_OPTIONS)
