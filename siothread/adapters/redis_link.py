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

Messages are handed to ``on_message(channel, data)`` in the subscriber
greenlet, in arrival order; the callback must not block (adapters deliver
locally, which only queues writes, and spawn user handlers).
"""
from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..engine._runtime import RUNTIME

__all__ = ["RedisLink", "Backoff", "LinkUnavailable"]

logger = logging.getLogger("siothread.redis")

#: (command, channel, payload); command is "publish" or "spublish"
_Item = Tuple[str, str, bytes]
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
        return delay / 2 + random.uniform(0, delay / 2)

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
    ) -> None:
        if publish_timeout <= 0:
            raise ValueError("publish_timeout must be positive")
        self.url = url
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
        # commands (NUMSUB, ...) and the publisher share a small bounded pool
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=4, timeout=publish_timeout,
                                                     **_pool_options(options))
        self.client = redis.Redis(connection_pool=pool)
        self.channels: Set[str] = set()
        self.patterns: Set[str] = set()
        self.shard_channels: Set[str] = set()
        self._queue = RUNTIME.Queue()
        self._greenlets: List[Any] = []
        self._pubsub: Any = None
        self._sub_lock = RUNTIME.Lock()
        self._closed = False
        self._started = False
        self.connected = False
        self.subscribed = False
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
            self._greenlets.append(RUNTIME.spawn(self._subscriber))

    def close(self, timeout: float = 1.0) -> None:
        """Stop both greenlets and close the connections; waits at most ``timeout`` for queued messages."""
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        while self._queue.qsize() and self.connected and time.monotonic() < deadline:
            RUNTIME.sleep(0.01)
        self._closed = True
        RUNTIME.killall(self._greenlets, block=True, timeout=max(0.1, deadline - time.monotonic()))
        self._greenlets.clear()
        self._close_pubsub()
        try:
            self.client.close()
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
        self._queue.put(("spublish" if sharded else "publish", channel, payload))
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
                RUNTIME.sleep(backoff.next())
                continue
            backoff.reset()
            self._mark_up()
            try:
                while not self._closed:
                    batch = [queue.get()]
                    while len(batch) < self.max_batch:
                        try:
                            batch.append(queue.get_nowait())
                        except RUNTIME.Empty:
                            break
                    self._send(batch)
            except Exception as exc:  # noqa: BLE001
                self._mark_down(type(exc).__name__)
                _drain(queue, self)
                self.reconnects += 1

    def _send(self, batch: List[_Item]) -> None:
        try:
            if len(batch) == 1:
                command, channel, payload = batch[0]
                self.client.execute_command(command.upper(), channel, payload)
            else:
                pipe = self.client.pipeline(transaction=False)
                for command, channel, payload in batch:
                    pipe.execute_command(command.upper(), channel, payload)
                pipe.execute()
        except Exception:
            self.dropped_publish += len(batch)
            raise
        self.published += len(batch)

    def command(self, *args: Any) -> Any:
        """A request/response command (``PUBSUB NUMSUB ...``), bounded by ``publish_timeout``.

        Raises:
            LinkUnavailable: Redis is down, stalled or the call failed.
        """
        if self._closed or (self._started and not self.connected):
            raise LinkUnavailable("Redis is not connected")
        try:
            with RUNTIME.Timeout(self.publish_timeout, LinkUnavailable("Redis did not answer in time")):
                return self.client.execute_command(*args)
        except LinkUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise LinkUnavailable(f"{type(exc).__name__}: {exc}") from None

    # -------------------------------------------------------------- subscribing
    def subscribe(self, channels: Iterable[str] = (), patterns: Iterable[str] = (),
                  shard_channels: Iterable[str] = ()) -> None:
        """Add subscriptions (kept across reconnections)."""
        new_c = set(channels) - self.channels
        new_p = set(patterns) - self.patterns
        new_s = set(shard_channels) - self.shard_channels
        self.channels |= new_c
        self.patterns |= new_p
        self.shard_channels |= new_s
        self._apply(lambda ps: (new_c and ps.subscribe(*new_c), new_p and ps.psubscribe(*new_p),
                                new_s and ps.ssubscribe(*new_s)))

    def unsubscribe(self, channels: Iterable[str] = (), patterns: Iterable[str] = (),
                    shard_channels: Iterable[str] = ()) -> None:
        old_c = set(channels) & self.channels
        old_p = set(patterns) & self.patterns
        old_s = set(shard_channels) & self.shard_channels
        self.channels -= old_c
        self.patterns -= old_p
        self.shard_channels -= old_s
        self._apply(lambda ps: (old_c and ps.unsubscribe(*old_c), old_p and ps.punsubscribe(*old_p),
                                old_s and ps.sunsubscribe(*old_s)))

    def _apply(self, change: Callable[[Any], Any]) -> None:
        ps = self._pubsub
        if ps is None or not self.subscribed:
            return  # the subscriber subscribes the whole set when it (re)connects
        try:
            with self._sub_lock:
                change(ps)
        except Exception as exc:  # noqa: BLE001 - the subscriber notices and reconnects
            self.log.debug("subscription change failed: %s", exc)

    def _connect_pubsub(self) -> Any:
        redis = self._redis
        client = redis.Redis.from_url(self.url, **self._options)
        ps = client.pubsub(ignore_subscribe_messages=True)
        ps._siothread_client = client
        self._pubsub = ps  # closed by close() even if we are killed while subscribing
        with self._sub_lock:
            if self.channels:
                ps.subscribe(*self.channels)
            if self.patterns:
                ps.psubscribe(*self.patterns)
            if self.shard_channels:
                ps.ssubscribe(*self.shard_channels)
        return ps

    def _close_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        self.subscribed = False
        if ps is not None:
            for closing in (ps.close, ps._siothread_client.close, ps._siothread_client.connection_pool.disconnect):
                try:
                    closing()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass

    def _subscriber(self) -> None:
        backoff = Backoff()
        first = True
        while not self._closed:
            try:
                self._connect_pubsub()
                # a PING round trip proves the subscriptions were accepted
                self._pubsub.ping()
                self.subscribed = True
                backoff.reset()
                if self.connected:
                    self._mark_up()
                if not first and self.on_reconnect is not None:
                    self.on_reconnect()
                first = False
                self._listen(self._pubsub)
            except Exception as exc:  # noqa: BLE001 - reconnect on any failure
                if self._closed:
                    return
                self._close_pubsub()
                self._mark_down(type(exc).__name__)
                self.reconnects += 1
                RUNTIME.sleep(backoff.next())

    def _listen(self, ps: Any) -> None:
        on_message = self.on_message
        assert on_message is not None
        idle = 0.0
        while not self._closed:
            message = ps.get_message(timeout=1.0)
            if message is None:
                idle += 1.0
                if idle >= max(5.0, self.publish_timeout):
                    idle = 0.0
                    ps.ping()  # a dead or stalled connection shows up as an error here
                continue
            idle = 0.0
            kind = message.get("type")
            if kind not in ("message", "pmessage", "smessage"):
                continue
            self.received += 1
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            data = message["data"]
            if not isinstance(data, bytes):
                continue  # a PONG or a subscription count
            try:
                on_message(channel, data)
            except Exception as exc:  # noqa: BLE001 - one bad message never ends the listener
                self.log.error("error handling a message on %s", channel, exc_info=exc)


def _drain(queue: Any, link: RedisLink) -> None:
    while True:
        try:
            queue.get_nowait()
        except RUNTIME.Empty:
            return
        link.dropped_publish += 1


def _pool_options(options: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in options.items() if k not in ("single_connection_client",)}


def _safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return scheme + "://***@" + rest.split("@", 1)[1]
    return url
