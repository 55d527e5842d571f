"""The engine lock of the threading runtime (see :mod:`siothread.engine._threading_runtime`).

One re-entrant lock plays the part of gevent's hub: siothread code runs only while
holding it, and every blocking call releases it completely (:func:`unlocked`).
"""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator

__all__ = ["LOCK", "release", "restore", "unlocked", "local", "log"]

log = logging.getLogger("siothread.engine")

#: the engine lock
LOCK = threading.RLock()
_release_save = LOCK._release_save  # type: ignore[attr-defined]
_acquire_restore = LOCK._acquire_restore  # type: ignore[attr-defined]
_is_owned = LOCK._is_owned  # type: ignore[attr-defined]
#: per-thread state: the deadline of the innermost ``Timeout`` block
local = threading.local()


def release() -> Any:
    """Release the engine lock completely if this thread holds it; the state to restore."""
    return _release_save() if _is_owned() else None


def restore(state: Any) -> None:
    if state is not None:
        _acquire_restore(state)


@contextlib.contextmanager
def unlocked() -> Iterator[None]:
    """A blocking section: other threads may run siothread code meanwhile."""
    state = release()
    try:
        yield
    finally:
        restore(state)
