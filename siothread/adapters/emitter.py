"""``RedisEmitter``: reach the clients of a Redis-backed cluster from any Python process.

A Celery task or a cron script has no Socket.IO server; it publishes what a
server would, on the classic adapter's channels, in the format of
``@socket.io/redis-emitter`` 5.x (uid ``"emitter"``), and every node (siothread
or Node with ``@socket.io/redis-adapter``) delivers to its own clients. Each
call publishes synchronously with a timeout and raises
:class:`~siothread.adapters.redis_link.LinkUnavailable` when Redis cannot be
reached: a script learns at once that nothing was sent. It needs neither gevent
nor a running server.

::

    emitter = siothread.RedisEmitter("redis://localhost:6379/0")
    emitter.to("room42").except_("muted").emit("news", {"id": 1})
    emitter.of("/admin").sockets_join("audit", )
    emitter.server_side_emit("reload", "config")

Reference: ``socketio/socket.io-redis-emitter: lib/index.ts``.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Union

from ..protocol.socketio import RESERVED_EVENTS
from . import wire
from .redis_link import LinkUnavailable, _redis_module

__all__ = ["RedisEmitter", "EmitterOperator"]

UID = "emitter"
Rooms = Union[str, List[str]]


def _as_set(rooms: Rooms) -> FrozenSet[str]:
    return frozenset([rooms] if isinstance(rooms, str) else rooms)


class _Publisher:
    """A plain redis-py client with bounded calls, shared by an emitter and its operators."""

    def __init__(self, url: str, redis_options: Optional[Dict[str, Any]], timeout: float) -> None:
        redis = _redis_module()
        options: Dict[str, Any] = dict(socket_timeout=timeout, socket_connect_timeout=timeout,
                                       retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
        options.update(redis_options or {})
        self.client = redis.Redis.from_url(url, **options)

    def publish(self, channel: str, payload: bytes) -> None:
        try:
            self.client.publish(channel, payload)
        except Exception as exc:  # noqa: BLE001 - one error type for "not sent"
            raise LinkUnavailable(f"could not publish to Redis: {type(exc).__name__}: {exc}") from None


class EmitterOperator:
    """Targets and flags of one emission (immutable: each modifier returns a new operator)."""

    def __init__(self, publisher: _Publisher, key: str, namespace: str, rooms: FrozenSet[str] = frozenset(),
                 except_rooms: FrozenSet[str] = frozenset(), flags: Optional[Dict[str, Any]] = None) -> None:
        self._publisher = publisher
        self._key = key
        self._namespace = namespace
        self._rooms = rooms
        self._except = except_rooms
        self._flags = flags or {}

    def _copy(self, **changes: Any) -> "EmitterOperator":
        values: Dict[str, Any] = dict(rooms=self._rooms, except_rooms=self._except, flags=self._flags)
        values.update(changes)
        return EmitterOperator(self._publisher, self._key, self._namespace, **values)

    def to(self, rooms: Rooms) -> "EmitterOperator":
        """Only the sockets in these rooms (added to the rooms already targeted)."""
        return self._copy(rooms=self._rooms | _as_set(rooms))

    in_ = to

    def except_(self, rooms: Rooms) -> "EmitterOperator":
        """Not the sockets in these rooms."""
        return self._copy(except_rooms=self._except | _as_set(rooms))

    @property
    def volatile(self) -> "EmitterOperator":
        return self._copy(flags={**self._flags, "volatile": True})

    def compress(self, compress: bool) -> "EmitterOperator":
        return self._copy(flags={**self._flags, "compress": bool(compress)})

    def _opts(self) -> Dict[str, Any]:
        return {"rooms": sorted(self._rooms), "except": sorted(self._except)}

    def emit(self, event: str, *args: Any) -> bool:
        """Publish the event; every node delivers it to its matching clients."""
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        packet = {"type": 2, "data": [event, *args], "nsp": self._namespace}
        opts = {**self._opts(), "flags": dict(self._flags)}
        channel = f"{self._key}#{self._namespace}#"
        if len(self._rooms) == 1:
            channel += next(iter(self._rooms)) + "#"
        self._publisher.publish(channel, wire.encode_msgpack([UID, packet, opts]))
        return True

    def _request(self, message: Dict[str, Any]) -> None:
        self._publisher.publish(f"{self._key}-request#{self._namespace}#", wire.encode_json(message))

    def sockets_join(self, rooms: Rooms) -> None:
        """Make the matching sockets join ``rooms``."""
        self._request({"type": 2, "opts": self._opts(), "rooms": sorted(_as_set(rooms))})

    def sockets_leave(self, rooms: Rooms) -> None:
        """Make the matching sockets leave ``rooms``."""
        self._request({"type": 3, "opts": self._opts(), "rooms": sorted(_as_set(rooms))})

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching sockets (``close`` also closes their connections)."""
        self._request({"type": 4, "opts": self._opts(), "close": bool(close)})


class RedisEmitter(EmitterOperator):
    """The root operator: every socket of namespace ``"/"`` (use :meth:`of` for another).

    Args:
        url: the Redis URL of the cluster.
        channel: the adapters' key prefix (``"socket.io"``).
        redis_options: extra arguments for ``redis.Redis.from_url``.
        publish_timeout: bound of each publish, in seconds.
    """

    def __init__(self, url: str = "redis://localhost:6379/0", channel: str = "socket.io",
                 redis_options: Optional[Dict[str, Any]] = None, publish_timeout: float = 5.0,
                 namespace: str = "/", _publisher: Optional[_Publisher] = None) -> None:
        publisher = _publisher or _Publisher(url, redis_options, publish_timeout)
        super().__init__(publisher, channel, namespace)
        self.url = url

    def of(self, namespace: str) -> "RedisEmitter":
        """An emitter for another namespace (same connection)."""
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        return RedisEmitter(self.url, self._key, namespace=namespace, _publisher=self._publisher)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """An event for every server's ``on_server_event`` handler (no acknowledgement: Node's rule)."""
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported by an emitter")
        self._request({"uid": UID, "type": 6, "data": [event, *args]})

    def close(self) -> None:
        self._publisher.client.close()
