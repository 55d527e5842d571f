"""``message_queue=`` URLs: the cluster adapter a :class:`~flask_siothread.SocketIO` builds.

Flask-SocketIO picks python-socketio's Redis, Kafka, ZeroMQ or Kombu manager
from the URL. siothread's cluster adapter is Redis (``siothread.RedisManager``),
looked up when the extension is initialised so that an install without it
fails with a message that says what is missing, not with an ``AttributeError``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import siothread

__all__ = ["manager_for"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def manager_for(url: str, channel: Optional[str], write_only: bool) -> Any:
    """``siothread.RedisManager(url, channel=..., write_only=...)`` for a ``message_queue`` URL.

    ``channel`` None keeps the manager's default (``'socket.io'``), the one
    plain siothread servers and ``siothread.RedisEmitter`` use too.

    Raises:
        ValueError: the URL is not a Redis URL.
        RuntimeError: this siothread has no Redis adapter.
    """
    if not isinstance(url, str) or not url.startswith(_REDIS_SCHEMES):
        raise ValueError(f"message_queue must be a redis://, rediss:// or unix:// URL, not {url!r}: "
                         "siothread's cluster adapter is Redis")
    try:
        manager_class = getattr(siothread, "RedisManager", None)
    except ImportError as exc:  # the adapter is there, its client library is not
        raise RuntimeError(f"message_queue needs siothread.RedisManager, which cannot load: {exc} "
                           "(pip install 'siothread[redis]')") from exc
    if manager_class is None:
        raise RuntimeError("message_queue needs siothread.RedisManager (the Redis adapter), which this "
                           "siothread installation does not provide")
    kwargs: Dict[str, Any] = {"write_only": write_only}
    if channel is not None:
        kwargs["channel"] = channel
    return manager_class(url, **kwargs)
