"""One node's connections to Redis: a publisher and subscribers that reconnect on their own.

Shared by every Redis adapter (classic pub/sub, sharded pub/sub, streams) and
by :class:`~siothread.adapters.emitter.RedisEmitter`. It owns the failure
policy, so adapters only say what to publish and what to do with a message:

- **Publishing never blocks the caller.** :meth:`RedisLink.publish` puts the
  message on a bounded queue drained by one publisher greenlet, which sends
  batches in a pipeline (one round trip for many messages, order kept). Every
  Redis call has a socket timeout (``publish_timeout``), so a stalled Redis
  (SIGSTOP) holds the publisher at most that long, and never a handler.
- **Outage policy.** While Redis is unreachable the node is *degraded*: it
  keeps serving its own clients, and cross-node messages published meanwhile
  are dropped and counted (``status()["dropped_publish"]``), not queued for
  later (a burst of stale broadcasts after the outage would be worse than
  none). Requests that wait for answers (``server_count``, ``fetch_sockets``)
  see only this node.
- **Reconnection** with capped, jittered exponential backoff (0.1 s doubling
  up to 5 s, each wait drawn in [50 %, 100 %]); subscriptions are restored on
  the new connection.
- **Shutdown** never waits on Redis longer than the timeout it is given.
- **A link belongs to the process that made it** (:attr:`RedisLink.pid`). In a
  process forked from it, :meth:`RedisLink.abandon` drops the inherited copy
  without touching the parent's connections; the adapters build a new link
  there (:mod:`~siothread.adapters.forking`).

Messages are handed to ``on_message(channel, data)`` in the subscriber
greenlet, in arrival order; the callback must not block (adapters deliver
locally, which only queues writes, and spawn user handlers).
"""
from __future__ import annotations

import logging
import os
import random
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..engine._runtime import RUNTIME

__all__ = ["RedisLink", "Backoff", "LinkUnavailable"]

logger = logging.getLogger("siothread.redis")

#: (command, key, arguments after the key): "publish"/"spublish" (channel, payload) or "xadd" (stream, ...)
_Item = Tuple[str, str, Tuple[Any, ...]]
OnMessage = Callable[[str, bytes], None]


class LinkUnavailable(ConnectionError):
    """Redis is not reachable right now (the node is degraded)."""


class Backoff:
    """Capped exponential backoff with jitter (the "equal jitter" variant)."""

    def __init__(self, base: float = 0.1, cap: float = 5.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return float(delay / 2 + random.uniform(0, delay / 2))

    def reset(self) -> None:
        self.attempt = 0


def _redis_module() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("the Redis adapters need redis-py and msgpack: pip install 'siothread[redis]'") from None
    return redis


class RedisLink:
    """A publisher and a subscriber on one Redis URL (``redis://``, ``rediss://``, ``unix://``).

    Args:
        url: the Redis URL.
        on_message: ``callback(channel, data)`` for every message on a
            subscribed channel, pattern or shard channel (None: publish only).
        redis_options: extra keyword arguments for ``redis.Redis.from_url``.
        publish_timeout: bound of every Redis call, in seconds.
        max_queue: messages waiting to be published; beyond it they are dropped and counted.
        write_only: no subscriber (an emitter).
    """

    def __init__(
        self,
        url: str,
        on_message: Optional[OnMessage] = None,
        *,
        redis_options: Optional[Dict[str, Any]] = None,
        publish_timeout: float = 5.0,
        max_queue: int = 10_000,
        max_batch: int = 512,
        log: Optional[logging.Logger] = None,
        cluster: bool = False,
    ) -> None:
        if publish_timeout <= 0:
            raise ValueError("publish_timeout must be positive")
        self.url = url
        #: the process this link belongs to (its connections and greenlets are of this process)
        self.pid = os.getpid()
        self.on_message = on_message
        self.publish_timeout = publish_timeout
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.log = log or logger
        redis = _redis_module()
        retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)  # we retry ourselves, with backoff
        options = dict(socket_timeout=publish_timeout, socket_connect_timeout=publish_timeout, retry=retry)
        options.update(redis_options or {})
        self._options = options
        self._redis = redis
        self.cluster = cluster
        if cluster:
            self.client = redis.RedisCluster.from_url(url, **{k: v for k, v in options.items() if k != "retry"})
        else:
            # commands (NUMSUB, ...) and the publisher share a small bounded pool
            pool = redis.BlockingConnectionPool.from_url(url, max_connections=4, timeout=publish_timeout,
                                                         **options)
            self.client = redis.Redis(connection_pool=pool)
        self._subs: Dict[str, _Subscriber] = {}
        self._queue = RUNTIME.Queue()
        self._greenlets: List[Any] = []
        self._closed = False
        self._stop = RUNTIME.Event()
        self._started = False
        self.connected = False
        self.degraded_since: Optional[float] = None
        self.dropped_publish = 0
        self.published = 0
        self.received = 0
        self.reconnects = 0
        self.on_reconnect: Optional[Callable[[], None]] = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the publisher (and subscriber) greenlets; the first connection is made in them."""
        if self._started:
            return
        self._started = True
        self._mark_down("not connected yet")
        self._greenlets.append(RUNTIME.spawn(self._publisher))
        if self.on_message is not None:
            for sub in list(self._subs.values()) or [self._subscriber_for()]:
                self._greenlets.append(RUNTIME.spawn(sub.run))

    def close(self, timeout: float = 1.0) -> None:
        """Stop both greenlets and close the connections; waits at most ``timeout`` for queued messages."""
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        while self._queue.qsize() and self.connected and time.monotonic() < deadline:
            RUNTIME.sleep(0.01)
        self._closed = True
        self._stop.set()
        self._queue.put(None)  # wakes the publisher
        for sub in self._subs.values():
            sub.close()  # wakes a listener blocked on its connection
        # Let the greenlets finish their current Redis call (each is bounded by the socket
        # timeouts) rather than kill them inside a connect, which would leak its socket.
        RUNTIME.joinall(self._greenlets, timeout=max(0.1, deadline - time.monotonic()))
        self._release()

    @property
    def started(self) -> bool:
        return self._started

    @property
    def closed(self) -> bool:
        return self._closed

    def abandon(self) -> None:
        """Drop a link this process inherited from the one it was forked from (``pid`` differs).

        Its greenlets are killed before they run again here (they would read the
        parent's subscription sockets and publish its queue), and its sockets are
        closed in this process only: redis-py shuts a connection down only in the
        process that opened it, so the parent's connections go on undisturbed.
        Nothing is sent to Redis.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._release()

    def _release(self) -> None:
        """Kill the greenlets that are left, close the connections."""
        RUNTIME.killall(self._greenlets, block=True, timeout=1.0)
        self._greenlets.clear()
        for sub in self._subs.values():
            sub.close()
        try:
            self.client.close()
            if not self.cluster:
                self.client.connection_pool.disconnect()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    # ------------------------------------------------------------------ status
    def _mark_down(self, why: str) -> None:
        if self.degraded_since is None:
            self.degraded_since = time.time()
            if self._started and why != "not connected yet":
                self.log.warning("Redis %s unreachable (%s): serving local clients only", _safe_url(self.url), why)
        self.connected = False

    def _mark_up(self) -> None:
        if self.degraded_since is not None and self.subscribed_or_write_only():
            if self.reconnects or self.received or self.published:
                self.log.warning("Redis %s reachable again", _safe_url(self.url))
            self.degraded_since = None
        self.connected = True

    def subscribed_or_write_only(self) -> bool:
        return self.on_message is None or self.subscribed

    def status(self) -> Dict[str, Any]:
        """Connection health for a readiness probe (see ``docs/scaling.md``)."""
        return {
            "connected": self.connected and self.subscribed_or_write_only(),
            "degraded_since": self.degraded_since,
            "dropped_publish": self.dropped_publish,
            "published": self.published,
            "received": self.received,
            "reconnects": self.reconnects,
            "queued": self._queue.qsize(),
        }

    def dedicated_client(self, socket_timeout: float) -> Any:
        """A connection of its own with this link's options (a blocking reader such as ``XREAD BLOCK``
        must not hold a pooled connection); ``socket_timeout`` must exceed the longest block."""
        options = dict(self._options, socket_timeout=socket_timeout)
        return self._redis.Redis.from_url(self.url, **options)

    # --------------------------------------------------------------- publishing
    def publish(self, channel: str, payload: bytes, sharded: bool = False) -> bool:
        """Queue a message; False when it was dropped (degraded, closed, or the queue is full)."""
        if self._closed or not self._started or not self.connected or self._queue.qsize() >= self.max_queue:
            self.dropped_publish += 1
            return False
        self._queue.put(("spublish" if sharded else "publish", channel, (payload,)))
        return True

    def send(self, command: str, key: str, *args: Any) -> bool:
        """Queue another write command (``XADD stream ...``) on the publisher, in order with the
        publications; False when it was dropped, as :meth:`publish`."""
        if self._closed or not self._started or not self.connected or self._queue.qsize() >= self.max_queue:
            self.dropped_publish += 1
            return False
        self._queue.put((command, key, args))
        return True

    def _publisher(self) -> None:
        backoff = Backoff()
        queue = self._queue
        while not self._closed:
            try:
                self.client.ping()
            except Exception as exc:  # noqa: BLE001 - any failure means: not reachable
                self._mark_down(type(exc).__name__)
                _drain(queue, self)
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            self._mark_up()
            try:
                while not self._closed:
                    try:
                        first = queue.get(timeout=1.0)
                        if first is None:
                            return  # closing
                        batch = [first]
                    except RUNTIME.Empty:
                        if not self.connected:  # the subscriber saw Redis go: check it ourselves
                            break
                        continue
                    while len(batch) < self.max_batch:
                        try:
                            item = queue.get_nowait()
                        except RUNTIME.Empty:
                            break
                        if item is None:
                            self._send(batch)
                            return
                        batch.append(item)
                    self._send(batch)
            except Exception as exc:  # noqa: BLE001
                self._mark_down(type(exc).__name__)
                _drain(queue, self)
                self.reconnects += 1

    def _send(self, batch: List[_Item]) -> None:
        try:
            if len(batch) == 1 or self.cluster:  # a cluster routes each channel to its own shard
                for command, channel, args in batch:
                    self.client.execute_command(command.upper(), channel, *args)
            else:
                pipe = self.client.pipeline(transaction=False)
                for command, channel, args in batch:
                    pipe.execute_command(command.upper(), channel, *args)
                pipe.execute()
        except Exception:
            self.dropped_publish += len(batch)
            raise
        self.published += len(batch)

    def command(self, *args: Any, client: Any = None) -> Any:
        """A request/response command (``PUBSUB NUMSUB ...``), bounded by ``publish_timeout``.

        Raises:
            LinkUnavailable: Redis is down, stalled or the call failed.
        """
        if self._closed or (self._started and not self.connected):
            raise LinkUnavailable("Redis is not connected")
        try:
            with RUNTIME.Timeout(self.publish_timeout, LinkUnavailable("Redis did not answer in time")):
                return (client or self.client).execute_command(*args)
        except LinkUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise LinkUnavailable(f"{type(exc).__name__}: {exc}") from None

    # -------------------------------------------------------------- subscribing
    def _subscriber_for(self, shard_channel: Optional[str] = None) -> "_Subscriber":
        """The subscription connection for a channel: one per Redis node (a cluster's shard channels
        live on the primary that owns their slot; everything else on the first connection)."""
        key = "main"
        factory = None
        if shard_channel is not None and self.cluster:
            node = self.client.get_node_from_key(shard_channel)
            key = f"{node.host}:{node.port}"
            host, port = node.host, node.port
            factory = lambda: self._redis.Redis(host=host, port=port, **self._options)  # noqa: E731
        sub = self._subs.get(key)
        if sub is None:
            if factory is None:
                factory = self._main_factory
            sub = self._subs[key] = _Subscriber(self, factory)
            if self._started:
                self._greenlets.append(RUNTIME.spawn(sub.run))
        return sub

    def _main_factory(self) -> Any:
        if self.cluster:
            node = self.client.get_random_node()
            return self._redis.Redis(host=node.host, port=node.port, **self._options)
        return self._redis.Redis.from_url(self.url, **self._options)

    def subscribe(self, channels: Iterable[str] = (), patterns: Iterable[str] = (),
                  shard_channels: Iterable[str] = ()) -> None:
        """Add subscriptions (kept across reconnections)."""
        channels, patterns = set(channels), set(patterns)
        if channels or patterns:
            self._subscriber_for().change(True, channels, patterns, set())
        for channel in set(shard_channels):
            self._subscriber_for(channel).change(True, set(), set(), {channel})

    def unsubscribe(self, channels: Iterable[str] = (), patterns: Iterable[str] = (),
                    shard_channels: Iterable[str] = ()) -> None:
        channels, patterns = set(channels), set(patterns)
        if channels or patterns:
            self._subscriber_for().change(False, channels, patterns, set())
        for channel in set(shard_channels):
            self._subscriber_for(channel).change(False, set(), set(), {channel})

    @property
    def subscribed(self) -> bool:
        return all(sub.subscribed for sub in self._subs.values())

    def shard_numsub(self, channel: str) -> int:
        """Subscribers of a shard channel (summed over a cluster's primaries)."""
        if not self.cluster:
            return int(self.command("PUBSUB", "SHARDNUMSUB", channel)[1])
        total = 0
        for node in self.client.get_primaries():
            # straight to each primary: redis-py's cluster reply parser does not know SHARDNUMSUB
            reply = self.command("PUBSUB", "SHARDNUMSUB", channel, client=node.redis_connection)
            total += int(reply[1])
        return total


class _Subscriber:
    """One subscription connection (its channels, patterns and shard channels) and its greenlet."""

    def __init__(self, link: RedisLink, factory: Callable[[], Any]) -> None:
        self.link = link
        self.factory = factory
        self.channels: Set[str] = set()
        self.patterns: Set[str] = set()
        self.shard_channels: Set[str] = set()
        self.pubsub: Any = None
        self.subscribed = False
        self.lock = RUNTIME.Lock()

    def change(self, add: bool, channels: Set[str], patterns: Set[str], shards: Set[str]) -> None:
        if add:
            channels, patterns, shards = (channels - self.channels, patterns - self.patterns,
                                          shards - self.shard_channels)
            self.channels |= channels
            self.patterns |= patterns
            self.shard_channels |= shards
        else:
            channels, patterns, shards = (channels & self.channels, patterns & self.patterns,
                                          shards & self.shard_channels)
            self.channels -= channels
            self.patterns -= patterns
            self.shard_channels -= shards
        ps = self.pubsub
        if ps is None or not self.subscribed or not (channels or patterns or shards):
            return  # the whole set is subscribed when the connection is (re)made
        try:
            with self.lock:
                if add:
                    channels and ps.subscribe(*channels)
                    patterns and ps.psubscribe(*patterns)
                    self._shards(ps.ssubscribe, shards)
                else:
                    channels and ps.unsubscribe(*channels)
                    patterns and ps.punsubscribe(*patterns)
                    self._shards(ps.sunsubscribe, shards)
        except Exception as exc:  # noqa: BLE001 - the listener notices and reconnects
            self.link.log.debug("subscription change failed: %s", exc)

    def connect(self) -> Any:
        client = self.factory()
        ps = client.pubsub(ignore_subscribe_messages=True)
        ps._siothread_client = client
        self.pubsub = ps  # closed by close() even if we are killed while subscribing
        with self.lock:
            if self.channels:
                ps.subscribe(*self.channels)
            if self.patterns:
                ps.psubscribe(*self.patterns)
            self._shards(ps.ssubscribe, self.shard_channels)
        return ps

    def _shards(self, command: Callable[..., Any], channels: Set[str]) -> None:
        """One command per shard channel in a cluster (channels of one command must share a slot)."""
        if not channels:
            return
        if self.link.cluster:
            for channel in channels:
                command(channel)
        else:
            command(*channels)

    def close(self) -> None:
        ps, self.pubsub = self.pubsub, None
        self.subscribed = False
        if ps is not None:
            for closing in (ps.close, ps._siothread_client.close, ps._siothread_client.connection_pool.disconnect):
                try:
                    closing()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass

    def run(self) -> None:
        link = self.link
        backoff = Backoff()
        first = True
        while not link._closed:
            try:
                ps = self.connect()
                ps.ping()  # a round trip proves the subscriptions were accepted
                self.subscribed = True
                backoff.reset()
                if link.connected:
                    link._mark_up()
                if not first and link.on_reconnect is not None:
                    link.on_reconnect()
                first = False
                self.listen(ps)
            except Exception as exc:  # noqa: BLE001 - reconnect on any failure
                if link._closed:
                    return
                self.close()
                link._mark_down(type(exc).__name__)
                link.reconnects += 1
                link._stop.wait(backoff.next())

    def listen(self, ps: Any) -> None:
        link = self.link
        on_message = link.on_message
        assert on_message is not None
        idle = 0.0
        while not link._closed:
            message = ps.get_message(timeout=1.0)
            if message is None:
                idle += 1.0
                if idle >= max(5.0, link.publish_timeout):
                    idle = 0.0
                    with self.lock:
                        ps.ping()  # a dead or stalled connection shows up as an error here
                continue
            idle = 0.0
            if message.get("type") not in ("message", "pmessage", "smessage"):
                continue
            data = message["data"]
            if not isinstance(data, bytes):
                continue
            link.received += 1
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            try:
                on_message(channel, data)
            except Exception as exc:  # noqa: BLE001 - one bad message never ends the listener
                link.log.error("error handling a message on %s", channel, exc_info=exc)


def _drain(queue: Any, link: RedisLink) -> None:
    while True:
        try:
            queue.get_nowait()
        except RUNTIME.Empty:
            return
        link.dropped_publish += 1


def _safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return scheme + "://***@" + rest.split("@", 1)[1]
    return url
