"""Shared by the tests of tests/ops: a siothread server on 127.0.0.1:0 for the length of a block."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import siothread


@contextlib.contextmanager
def running(sio: siothread.Server, app: Callable[..., Any]) -> Iterator[str]:
    """Serve ``app`` (which wraps ``sio``); yield its base URL; shut both down afterwards."""
    wsgi = siothread.make_server(app, "127.0.0.1", 0)
    wsgi.start()
    try:
        yield f"http://127.0.0.1:{wsgi.server_port}"
    finally:
        sio.shutdown(timeout=2)
        wsgi.stop(timeout=2)
