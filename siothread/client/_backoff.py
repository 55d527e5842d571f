"""Exponential backoff with jitter for client reconnection.

The formula is socket.io-client's (``contrib/backo2.js``, used by ``manager.ts``):
the n-th delay is ``delay * 2**n``, moved up or down at random by at most
``randomization_factor`` of itself, then capped at ``delay_max``. The jitter
spreads the reconnections of many clients after a server restart so they do
not all arrive in the same instant.
"""
from __future__ import annotations

import random
from typing import Callable

__all__ = ["Backoff"]


class Backoff:
    """Successive reconnection delays, in seconds.

    Args:
        delay: the first delay (``reconnection_delay``).
        delay_max: no delay exceeds this (``reconnection_delay_max``).
        randomization_factor: jitter in ``[0, 1]``; 0 gives the plain doubling sequence.
        rand: the random source, replaceable in tests.
    """

    FACTOR = 2  # socket.io-client Backoff default

    def __init__(
        self,
        delay: float,
        delay_max: float,
        randomization_factor: float,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if delay < 0 or delay_max < 0:
            raise ValueError("reconnection delays must be >= 0")
        if not 0 <= randomization_factor <= 1:
            raise ValueError("randomization_factor must be between 0 and 1")
        self.delay = float(delay)
        self.delay_max = float(max(delay, delay_max))
        self.randomization_factor = float(randomization_factor)
        self.attempts = 0
        self._rand = rand

    def duration(self) -> float:
        """The next delay; each call counts one attempt."""
        # Cap the exponent: past 2**64 the product only overflows, the cap applies anyway.
        base = self.delay * self.FACTOR ** min(self.attempts, 64)
        self.attempts += 1
        if self.randomization_factor:
            r = self._rand()
            deviation = r * self.randomization_factor * base
            # backo2 picks the direction from the same random draw.
            base = base - deviation if int(r * 10) & 1 == 0 else base + deviation
        return max(0.0, min(base, self.delay_max))

    def reset(self) -> None:
        """Start again from the first delay (after a successful connection)."""
        self.attempts = 0
