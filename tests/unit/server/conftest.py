"""Fixtures for the Socket.IO server unit tests: a Server on the in-memory engine
(:mod:`tests.support.fake_engine`)."""
from typing import Any, Callable, Iterator, List

import pytest

from siothread.server import Server
from tests.support.fake_engine import FakeEngine


@pytest.fixture
def make_server() -> Iterator[Callable[..., Server]]:
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
