"""Fixtures for the Socket.IO server unit tests: a Server on the in-memory engine."""
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

from siothread.server import Server

HERE = Path(__file__).resolve().parent
# pytest runs with --import-mode=importlib: make the helper module importable by the tests.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def make_server() -> Iterator[Callable[..., Server]]:
    from sio_fake_engine import FakeEngine

    class FakeServer(Server):
        engine_class = FakeEngine

    made: List[Server] = []

    def make(**options: Any) -> Server:
        sio = FakeServer(**options)
        made.append(sio)
        return sio

    yield make
    for sio in made:
        sio.shutdown(timeout=1.0)


@pytest.fixture
def sio(make_server: Callable[..., Server]) -> Server:
    return make_server()
