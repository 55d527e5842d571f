"""Small helpers shared by the client tests."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Tuple

TRANSPORTS: Tuple[Tuple[str, ...], ...] = (("polling",), ("websocket",), ("polling", "websocket"))


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passed; its last truth value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def client_kwargs(**overrides: Any) -> Dict[str, Any]:
    """Client options for tests: fast reconnection without jitter, no SIGINT handler."""
    base: Dict[str, Any] = dict(handle_sigint=False, reconnection_delay=0.05,
                                reconnection_delay_max=0.2, randomization_factor=0)
    base.update(overrides)
    return base
