"""Fixtures for the robustness suite (rows of the security test plan, docs/security.md).

``robust_server(**options)`` starts the shared Engine.IO echo server
(:mod:`tests.support.engine_harness`) under :func:`siothread.make_server`
(``header_timeout`` / ``idle_timeout`` may be passed too) and returns its
:class:`EngineHarness`, which records every handler call.
``sio_process(options)`` starts ``sio_server.py``, a Socket.IO server in a process
of its own. Everything started is stopped at teardown, before the leak check runs.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

from tests.conftest import free_port
from tests.support.engine_harness import EngineHarness, start_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def robust_server() -> Iterator[Callable[..., EngineHarness]]:
    started: List[EngineHarness] = []

    def factory(**options: Any) -> EngineHarness:
        h = start_engine(**options)
        started.append(h)
        return h

    yield factory
    for h in started:
        h.close()


@pytest.fixture
def sio_process() -> Iterator[Callable[[dict], Any]]:
    """``sio_process(options)`` starts ``sio_server.py`` (a Socket.IO server) in a process of its own."""
    from server_process import ServerProcess

    script = Path(__file__).resolve().parent / "sio_server.py"
    started: List[Any] = []

    def start(options: dict) -> Any:
        p = ServerProcess(free_port(), options, ["--shutdown-timeout", "2"], script=script)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
