"""``ShardedRedisManager``: Redis 7 sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``), Redis Cluster included.

The wire of ``@socket.io/redis-adapter``'s ``createShardedAdapter`` (8.x): a
:class:`~siothread.adapters.cluster.ClusterAdapter` whose messages
``{uid, nsp, type, data}`` go to the shard channel ``<prefix>#<nsp>#`` and whose
responses go to ``<prefix>#<nsp>#<uid>#``; JSON, or msgpack when the message
holds binary. ``server_count()`` is ``PUBSUB SHARDNUMSUB`` of the namespace
channel (summed over the cluster's primaries).

``subscription_mode`` as in Node:

- ``"static"``: two channels per namespace (best with many dynamic namespaces);
- ``"dynamic"`` (default): plus one channel per public room that has a member
  on this node, so a broadcast to one room only reaches the nodes that have it;
- ``"dynamic-private"``: plus one per private (socket id) room as well.

Reference: ``socketio/socket.io-redis-adapter: lib/sharded-adapter.ts``.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional

from . import wire
from .cluster import ClusterAdapter, MessageType
from .forking import ForkSafeNode
from .redis_link import LinkUnavailable, RedisLink

__all__ = ["ShardedRedisManager"]

_MODES = ("static", "dynamic", "dynamic-private")


def _looks_like_a_socket_id(room: str) -> bool:
    return len(room) == 20


class ShardedRedisManager(ForkSafeNode, ClusterAdapter):
    """Rooms and broadcasts across nodes over sharded pub/sub.

    Args:
        url: a Redis 7 URL; with ``cluster=True``, any node of a Redis Cluster.
        channel: the channel prefix (Node's ``channelPrefix``), ``"socket.io"``.
        subscription_mode: ``"static"``, ``"dynamic"`` or ``"dynamic-private"``.
        cluster: the URL is a Redis Cluster node (channels are spread over its shards).
        redis_options, logger, publish_timeout, requests_timeout,
        max_pending_requests, max_ack_wait, limits: as for
        :class:`~siothread.adapters.redis_pubsub.RedisManager`.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        logger: Optional[logging.Logger] = None,
        redis_options: Optional[Dict[str, Any]] = None,
        *,
        subscription_mode: str = "dynamic",
        cluster: bool = False,
        publish_timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        if subscription_mode not in _MODES:
            raise ValueError(f"subscription_mode must be one of {_MODES}")
        super().__init__(logger=logger or logging.getLogger("siothread.redis"), **kwargs)
        self.url = url
        self.prefix = channel
        self.mode = subscription_mode
        self._link_factory = functools.partial(RedisLink, url, self._on_redis_message, redis_options=redis_options,
                                               publish_timeout=publish_timeout, log=self.logger, cluster=cluster)
        self.link = self._link_factory()

    # ---------------------------------------------------------------- transport
    def _join(self) -> None:
        known, self.namespaces = {"/", *self.namespaces}, set()
        ClusterAdapter.initialize(self)
        for namespace in known:  # the response channel holds the uid: subscribed again after a new one
            self.use_namespace(namespace)
        for namespace, rooms in self._rooms.items():
            channels = [f"{self._channel(namespace)}{room}#" for room in rooms if self._separate(namespace, room)]
            if channels:
                self.link.subscribe(shard_channels=channels)
        self.link.start()

    def status(self) -> Dict[str, Any]:
        """Health for a readiness probe (see :meth:`RedisManager.status`)."""
        out = self.link.status()
        out["dropped_invalid"] = self.drops.total
        out["pending_requests"] = len(self._requests) if self._requests is not None else 0
        return out

    def _channel(self, namespace: str) -> str:
        return f"{self.prefix}#{namespace}#"

    def namespace_added(self, namespace: str) -> None:
        base = self._channel(namespace)
        self.link.subscribe(shard_channels=[base, f"{base}{self.uid}#"])

    def do_publish(self, namespace: str, message: Dict[str, Any]) -> None:
        channel = self._channel(namespace)
        data = message.get("data") or {}
        if message["type"] == MessageType.BROADCAST and "requestId" not in data and len(data["opts"]["rooms"]) == 1:
            room = data["opts"]["rooms"][0]
            if self.mode == "dynamic-private" or (self.mode == "dynamic" and not _looks_like_a_socket_id(room)):
                channel = f"{channel}{room}#"
        self._send(channel, message)

    def do_publish_response(self, namespace: str, requester_uid: str, response: Dict[str, Any]) -> None:
        self._send(f"{self._channel(namespace)}{requester_uid}#", response)

    def _send(self, channel: str, message: Dict[str, Any]) -> None:
        try:
            payload = wire.encode_auto(message)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot send to other nodes: %s", exc)
            return
        self.link.publish(channel, payload, sharded=True)

    def _on_redis_message(self, channel: str, data: bytes) -> None:
        try:
            message = wire.decode(data, self.limits)
        except wire.WireError as exc:
            self.drops.drop("undecodable", f"on {channel}: {exc}")
            return
        self.on_message(message)

    def cluster_size(self, namespace: str) -> int:
        try:
            return max(1, self.link.shard_numsub(self._channel(namespace)))
        except LinkUnavailable:
            return 1

    # ------------------------------------------------------- dynamic channels
    def _separate(self, namespace: str, room: str) -> bool:
        if self.mode == "static":
            return False
        if self.mode == "dynamic-private":
            return True
        return room not in self._sids.get(namespace, ())

    def enter_room(self, namespace: str, sid: str, room: str) -> None:
        created = self.room_size(namespace, room) == 0
        super().enter_room(namespace, sid, room)
        if created and self.room_size(namespace, room) and self._separate(namespace, room):
            self.link.subscribe(shard_channels=[f"{self._channel(namespace)}{room}#"])

    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        super().connect(namespace, sid, eio_sid)
        if self.mode == "dynamic-private":
            self.link.subscribe(shard_channels=[f"{self._channel(namespace)}{sid}#"])

    def leave_room(self, namespace: str, sid: str, room: str) -> None:
        separate = self._separate(namespace, room)
        super().leave_room(namespace, sid, room)
        if separate and self.room_size(namespace, room) == 0:
            self.link.unsubscribe(shard_channels=[f"{self._channel(namespace)}{room}#"])

    def disconnect(self, namespace: str, sid: str) -> None:
        rooms: List[str] = [r for r in self._sids.get(namespace, {}).get(sid, ()) if self._separate(namespace, r)]
        super().disconnect(namespace, sid)
        gone = [f"{self._channel(namespace)}{r}#" for r in rooms if self.room_size(namespace, r) == 0]
        if gone:
            self.link.unsubscribe(shard_channels=gone)
