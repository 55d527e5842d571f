"""Shared fixtures of the Flask extension tests.

``make_client`` creates ``socketio.test_client`` instances and closes the ones a
test leaves connected, so every test ends with no Engine.IO session open (the
leak check of ``tests/conftest.py`` counts what stays behind).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    created: List[Any] = []

    def make(socketio: Any, app: Any, **kwargs: Any) -> Any:
        client = socketio.test_client(app, **kwargs)
        created.append(client)
        return client

    yield make
    for client in created:
        client.close()
