"""Engine.IO server configuration: one frozen, validated object with documented defaults.

Defaults follow the Node reference (engine.io ``lib/server.ts``) unless a
comment says why siothread chose otherwise (style principle 7).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from ..protocol.engineio import DEFAULT_MAX_PACKETS_PER_PAYLOAD

__all__ = ["EngineConfig", "OriginPolicy", "TRANSPORTS", "OVERFLOW_POLICIES"]

TRANSPORTS = ("polling", "websocket")
OVERFLOW_POLICIES = ("disconnect", "drop")

OriginSetting = Union[None, str, Sequence[str], Callable[[str], bool]]


@dataclasses.dataclass(frozen=True)
class OriginPolicy:
    """Which browser origins may talk to the server (checked on polling AND WebSocket).

    ``None`` (default) allows only the server's own origin, computed from the
    request's scheme and ``Host`` (python-engineio's fix for CVE-2019-13611);
    ``'*'`` allows any origin; a string or list allows exactly those origins;
    a callable decides per origin. Matching is exact: no prefix or suffix
    tricks (``https://app.example.com.evil`` is not ``https://app.example.com``).
    A request without an ``Origin`` header is not a browser request and is allowed.
    """

    setting: OriginSetting = None

    def __post_init__(self) -> None:
        s = self.setting
        if s is None or s == "*" or callable(s):
            return
        if isinstance(s, str):
            object.__setattr__(self, "setting", (s,))
            return
        if isinstance(s, (list, tuple, set, frozenset)) and all(isinstance(o, str) for o in s):
            object.__setattr__(self, "setting", tuple(s))
            return
        raise TypeError("cors_allowed_origins must be None, '*', a str, a list of str or a callable")

    @property
    def wildcard(self) -> bool:
        return self.setting == "*"

    def allows(self, origin: str, own_origins: Sequence[str]) -> bool:
        """True when a request carrying ``Origin: origin`` may proceed."""
        s = self.setting
        if s is None:
            return origin in own_origins
        if s == "*":
            return True
        if callable(s):
            try:
                return bool(s(origin))
            except Exception:  # a broken policy must refuse, not crash the request
                return False
        return origin in s  # type: ignore[operator]


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return float(value)


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """Validated Engine.IO options. Build with :meth:`from_kwargs`; unknown names raise ``TypeError``."""

    cors_allowed_origins: OriginPolicy = OriginPolicy()
    #: Send ``Access-Control-Allow-Credentials: true`` to listed origins (never with ``'*'``).
    cors_credentials: bool = True
    #: sid cookie for sticky load balancers; off by default (engine.io a374471).
    cookie: Optional[Mapping[str, Any]] = None
    #: engine.io defaults 25 s / 20 s. A tuple ``(interval, grace)`` adds grace to the timeout
    #: on the server side only, like python-engineio.
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    ping_grace: float = 0.0
    #: Polling body and WebSocket message cap, enforced while reading (CVE-2020-36048: 1 MB).
    max_http_buffer_size: int = 1_000_000
    upgrade_timeout: float = 10.0
    allow_upgrades: bool = True
    #: Also serve Engine.IO v3 clients (socket.io-client 2.x; Node's ``allowEIO3``). Off by default.
    allow_eio3: bool = False
    transports: Tuple[str, ...] = TRANSPORTS
    http_compression: bool = True
    compression_threshold: int = 1024
    websocket_compression: bool = False
    #: Outbound queue per session: packets and bytes not yet taken by the kernel / a GET.
    #: New in siothread (python-engineio#133, G10): an unbounded queue lets one slow
    #: consumer exhaust the process.
    max_queue: int = 1000
    max_queue_bytes: int = 8 * 1024 * 1024
    overflow: str = "disconnect"
    max_packets_per_payload: int = DEFAULT_MAX_PACKETS_PER_PAYLOAD
    #: Fragments of one WebSocket message (ws CVE-2026-48779: many tiny fragments).
    max_ws_fragments: int = 1024
    #: Time to receive a whole polling POST body (a slow body cannot pin a greenlet).
    body_timeout: float = 30.0
    #: None = unbounded.
    max_sessions: Optional[int] = None
    allow_request: Optional[Callable[[dict], Any]] = None
    #: Honour X-Forwarded-Proto / X-Forwarded-Host when computing the server's own origin.
    #: Off by default: without a trusted proxy in front, a client could forge them.
    trust_forwarded_headers: bool = False
    logger: logging.Logger = dataclasses.field(default_factory=lambda: _make_logger(False))

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "EngineConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown Engine.IO option(s): {', '.join(sorted(unknown))}")
        if "cors_allowed_origins" in kwargs and not isinstance(kwargs["cors_allowed_origins"], OriginPolicy):
            kwargs["cors_allowed_origins"] = OriginPolicy(kwargs["cors_allowed_origins"])
        if "ping_interval" in kwargs and isinstance(kwargs["ping_interval"], (tuple, list)):
            interval, grace = kwargs["ping_interval"]
            kwargs["ping_interval"] = interval
            kwargs["ping_grace"] = grace
        if "logger" in kwargs and not isinstance(kwargs["logger"], logging.Logger):
            kwargs["logger"] = _make_logger(bool(kwargs["logger"]))
        if "transports" in kwargs:
            t = kwargs["transports"]
            kwargs["transports"] = (t,) if isinstance(t, str) else tuple(t)
        if "cookie" in kwargs and isinstance(kwargs["cookie"], str):
            kwargs["cookie"] = {"name": kwargs["cookie"]}
        return cls(**kwargs)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ping_interval", _seconds("ping_interval", self.ping_interval))
        object.__setattr__(self, "ping_timeout", _seconds("ping_timeout", self.ping_timeout))
        object.__setattr__(self, "upgrade_timeout", _seconds("upgrade_timeout", self.upgrade_timeout))
        object.__setattr__(self, "body_timeout", _seconds("body_timeout", self.body_timeout))
        if self.ping_grace < 0:
            raise ValueError("ping grace must be >= 0")
        for name in ("max_http_buffer_size", "max_queue", "max_queue_bytes", "max_packets_per_payload",
                     "max_ws_fragments"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer")
        if not self.transports or any(t not in TRANSPORTS for t in self.transports):
            raise ValueError(f"transports must be a non-empty subset of {TRANSPORTS}")
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}")
        if self.compression_threshold < 0:
            raise ValueError("compression_threshold must be >= 0")
        if self.max_sessions is not None and self.max_sessions < 1:
            raise ValueError("max_sessions must be None or >= 1")
        if self.cookie is not None:
            if not isinstance(self.cookie, Mapping) or not isinstance(self.cookie.get("name"), str):
                raise TypeError("cookie must be a str or a dict with a 'name'")
        if self.allow_request is not None and not callable(self.allow_request):
            raise TypeError("allow_request must be callable")


def _make_logger(enabled: bool) -> logging.Logger:
    logger = logging.getLogger("siothread.engine")
    if enabled and logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger
