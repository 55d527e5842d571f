"""``RedisStreamsManager``: the cluster adapter of Node's ``@socket.io/redis-streams-adapter`` 0.3.x.

Wire format (read from the Node adapter, shared both ways with Node nodes):

- Every cluster message that must not be lost (broadcasts without acks,
  ``sockets_join``, ``sockets_leave``, ``disconnect_sockets``, ...) is an
  entry of the stream ``stream_name`` (``XADD ... MAXLEN ~ max_len``), encoded
  by :mod:`~siothread.adapters.stream_entries`. Each node reads the stream with
  ``XREAD BLOCK`` from the last entry it handled, so a Redis blip neither loses
  nor repeats an entry, and an entry's id is the *offset* appended to the
  event it carries when connection-state recovery is on.
- Ephemeral messages (broadcasts with acks, ``fetch_sockets``,
  ``server_side_emit``) are msgpack on the pub/sub channel
  ``<channel_prefix>#<nsp>#``; answers go to ``<channel_prefix>#<nsp>#<uid>#``.
  ``server_count()`` is ``PUBSUB NUMSUB`` of the first channel.
- A disconnected socket's session is ``SET <session_key_prefix><pid>`` with the
  base64 of msgpack ``{sid, pid, rooms, data}`` and a TTL of
  ``max_disconnection_duration`` (``PX``). siothread adds ``nsp`` and
  ``joined`` (each room's stream position when the socket joined it), which Node
  ignores, and an index (a sorted set) that caps the number of sessions.

Recovery holds the in-process protections cluster-wide
(:mod:`~siothread.adapters.stream_recovery`, ``docs/scaling.md``). The transport-independent cluster behaviour
(requests, acks across nodes, socket management) is
:class:`~siothread.adapters.cluster.ClusterAdapter`; the Redis connections are
:class:`~siothread.adapters.redis_link.RedisLink`.

Reference: ``socketio/socket.io-redis-streams-adapter: lib/adapter.ts, lib/util.ts``.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from ..engine._runtime import RUNTIME
from ..protocol.socketio import Packet, PacketType
from . import wire
from .base import BroadcastOptions
from .cluster import ClusterAdapter, MessageType
from .forking import ForkSafeNode
from .redis_link import Backoff, LinkUnavailable, RedisLink
from .stream_entries import ZERO, StreamId, decode_entry, encode_entry, format_id, parse_id
from .stream_recovery import StreamRecovery, _lost_after, _stream_info

__all__ = ["RedisStreamsManager"]


def _is_ephemeral(message: Dict[str, Any]) -> bool:
    """Node's ``isEphemeral``: what goes over pub/sub instead of the stream."""
    mtype = message["type"]
    if mtype == MessageType.BROADCAST:
        return message.get("data", {}).get("requestId") is not None
    return mtype in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


class RedisStreamsManager(ForkSafeNode, StreamRecovery, ClusterAdapter):
    """Rooms, broadcasts and connection-state recovery across nodes on one Redis stream.

    ``Server(client_manager=RedisStreamsManager(url), recovery=True)``: a client
    whose connection dropped may come back on any node (or on its restarted
    node) within ``max_disconnection_duration`` and get its sid, rooms, session
    and every event it missed.

    Args:
        url: Redis URL (``redis://``, ``rediss://``, ``unix://``).
        stream_name: the stream (Node's ``streamName``).
        channel_prefix: prefix of the pub/sub channels (Node's ``channelPrefix``).
        max_len: stream length cap, ``MAXLEN ~`` (Node's ``maxLen``); it also bounds
            how far back a client can recover.
        read_count: entries per ``XREAD`` (Node's ``readCount``).
        block_time: seconds one ``XREAD`` blocks (Node's ``blockTimeInMs`` / 1000).
        session_key_prefix: prefix of the session keys (Node's ``sessionKeyPrefix``).
        only_plaintext: never look for binary in broadcast data (Node's ``onlyPlaintext``).
        requests_timeout: seconds to wait for other nodes' answers.
        publish_timeout: bound of every Redis call: a stalled Redis holds a
            broadcast or a recovery at most this long.
        max_pending_requests, max_ack_wait, limits: as :class:`~siothread.adapters.cluster.ClusterAdapter`.
        redis_options: extra arguments for redis-py's ``Redis.from_url``.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        stream_name: str = "socket.io",
        *,
        channel_prefix: str = "socket.io",
        max_len: int = 10_000,
        read_count: int = 100,
        block_time: float = 5.0,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        requests_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        max_pending_requests: int = 1000,
        max_ack_wait: float = 60.0,
        limits: Optional[wire.WireLimits] = None,
        logger: Optional[logging.Logger] = None,
        redis_options: Optional[Dict[str, Any]] = None,
    ) -> None:
        for name, value in (("stream_name", stream_name), ("channel_prefix", channel_prefix),
                            ("session_key_prefix", session_key_prefix)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if "#" in channel_prefix:
            raise ValueError("channel_prefix must not contain '#'")
        if not isinstance(max_len, int) or max_len < 1 or not isinstance(read_count, int) or read_count < 1:
            raise ValueError("max_len and read_count must be integers >= 1")
        if not 0 < block_time <= 60:
            raise ValueError("block_time must be in (0, 60] seconds")
        super().__init__(requests_timeout=requests_timeout, max_pending_requests=max_pending_requests,
                         max_ack_wait=max_ack_wait, limits=limits,
                         logger=logger or logging.getLogger("siothread.redis"))
        self.url = url
        self.stream_name = stream_name
        self.channel_prefix = channel_prefix
        self.max_len = max_len
        self.read_count = read_count
        self.block_time = block_time
        self.session_key_prefix = session_key_prefix
        self.session_index = session_key_prefix + "#index"
        self.only_plaintext = only_plaintext
        self._link_factory = functools.partial(RedisLink, url, self._on_pubsub, redis_options=redis_options,
                                               publish_timeout=publish_timeout, log=self.logger)
        self.link = self._link_factory()
        #: the last entry the reader handled (None until it first reached Redis)
        self._position: Optional[StreamId] = None
        #: the last entry this node added
        self._own_last: StreamId = ZERO
        # restored sid -> (last entry its replay covered, earliest time to forget it)
        self._floors: Dict[str, Tuple[StreamId, float]] = {}
        self._floors_checked = 0.0
        self._reader: Any = None
        #: where the reader started (from the newest entry): own entries up to it are not delivered by it
        self._read_from: StreamId = ZERO
        #: set (and replaced) each time the reader handled a batch of entries
        self._advanced = RUNTIME.Event()
        self._closed = False
        # namespace -> sid -> room -> stream position when the socket joined (recovery only)
        self._joined: Dict[str, Dict[str, Dict[str, StreamId]]] = {}
        self._persisting: Dict[str, Any] = {}  # pid -> Event set when its SET finished
        self.reader_connected = False
        self.entries_read = 0
        self.stream_gaps = 0
        self.dropped_writes = 0
        self.dropped_sessions = 0

    # ---------------------------------------------------------------- lifecycle
    def _join(self) -> None:
        known, self.namespaces = {"/", *self.namespaces}, set()
        ClusterAdapter.initialize(self)
        for namespace in known:  # the response channel holds the uid: subscribed again after a new one
            self.use_namespace(namespace)
        self._closed = False
        self.link.start()
        self._reader = RUNTIME.spawn(self._read_loop)

    def _stop_background(self, own: bool) -> None:
        if own:
            # sessions of sockets closed by the shutdown are still being written: let them land
            deadline = time.monotonic() + self.link.publish_timeout
            for done in list(self._persisting.values()):
                done.wait(max(0.0, deadline - time.monotonic()))
        self._closed = True
        self._wake_broadcasters()
        if self._reader is not None:
            RUNTIME.killall([self._reader], block=True, timeout=1.0)
            self._reader = None

    def _forget_node(self) -> None:
        # a new node reads from the newest entry, as any node that starts
        self._position = None
        self._own_last = ZERO
        self._floors.clear()
        self._persisting = {}
        self.reader_connected = False

    def status(self) -> Dict[str, Any]:
        """Health for a readiness probe: the link's status plus the stream reader's."""
        out = self.link.status()
        out.update(
            connected=out["connected"] and self.reader_connected,
            stream_position=format_id(self._position) if self._position is not None else None,
            entries_read=self.entries_read,
            stream_gaps=self.stream_gaps,
            dropped_invalid=self.drops.total,
            dropped_writes=self.dropped_writes,
            dropped_sessions=self.dropped_sessions,
            pending_requests=len(self._requests) if self._requests is not None else 0,
        )
        return out

    # ---------------------------------------------------------------- transport
    def _channel(self, namespace: str, uid: str = "") -> str:
        return f"{self.channel_prefix}#{namespace}#{uid + '#' if uid else ''}"

    def namespace_added(self, namespace: str) -> None:
        self.link.subscribe(channels=[self._channel(namespace), self._channel(namespace, self.uid)])

    def cluster_size(self, namespace: str) -> int:
        """Nodes subscribed to the namespace's channel (Node's ``serverCount``); 1 when Redis cannot say."""
        try:
            reply = self.link.command("PUBSUB", "NUMSUB", self._channel(namespace))
            return max(1, int(reply[1]))
        except (LinkUnavailable, IndexError, TypeError, ValueError):
            return 1

    def do_publish(self, namespace: str, message: Dict[str, Any]) -> None:
        if _is_ephemeral(message):
            self._publish(self._channel(namespace), message)
        elif self.recovery is not None:
            self._xadd(message)  # in order with the stored broadcasts, which wait for their entry id
        else:
            try:
                fields = encode_entry(message, self.only_plaintext)
            except (TypeError, ValueError) as exc:
                self.logger.error("cannot send to other nodes: %s", exc)
                return
            # nobody needs the entry id: queued on the publisher, pipelined, never blocking the caller
            self.link.send("XADD", self.stream_name, "MAXLEN", "~", self.max_len, "*", *fields)

    def do_publish_response(self, namespace: str, requester_uid: str, response: Dict[str, Any]) -> None:
        self._publish(self._channel(namespace, requester_uid), response)

    def _publish(self, channel: str, message: Dict[str, Any]) -> None:
        try:
            payload = wire.encode_msgpack(message)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot send to other nodes: %s", exc)
            return
        self.link.publish(channel, payload)

    def _xadd(self, message: Dict[str, Any]) -> Optional[str]:
        """Append ``message`` to the stream; its entry id, or None when Redis did not take it.

        Node awaits the same ``XADD`` before delivering locally; here the wait
        is bounded by ``publish_timeout``.
        """
        try:
            fields = encode_entry(message, self.only_plaintext)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot send to other nodes: %s", exc)
            return None
        try:
            reply = self.link.command("XADD", self.stream_name, "MAXLEN", "~", self.max_len, "*", *fields)
        except LinkUnavailable as exc:
            self.dropped_writes += 1
            self.logger.debug("stream write dropped: %s", exc)
            return None
        entry = reply.decode("ascii") if isinstance(reply, bytes) else str(reply)
        parsed = parse_id(entry)
        if parsed is not None and parsed > self._own_last:
            self._own_last = parsed
        return entry

    def _on_pubsub(self, channel: str, data: bytes) -> None:
        try:
            message = wire.decode(data, self.limits)
        except wire.WireError as exc:
            self.drops.drop("invalid", str(exc))
            return
        self.on_message(message)

    # ------------------------------------------------------------- broadcasting
    def broadcast(self, namespace: str, packet: Packet, opts: BroadcastOptions) -> int:
        """Deliver locally and, unless ``local``, add the broadcast to the stream.

        With recovery on, a plain broadcast is delivered with its entry id
        appended (:meth:`store_packet`), by the stream reader in stream order
        (:meth:`_reader_delivers`); without it (or for volatile ones) it is
        not stored, as in Node.
        """
        assert self.host is not None
        if opts.local:
            return self.host.deliver(packet, self.select(namespace, opts), opts)
        self.use_namespace(namespace)
        if self.recovery is not None and packet.id is None and not opts.volatile:
            stored = self.store_packet(namespace, packet, opts)
            entry = parse_id(stored.data[-1]) if stored is not packet else None
            if entry is not None and self._reader_delivers(entry):
                # the reader delivers it, in stream order: a socket's offsets only grow
                return len(self.select(namespace, opts))
            return self.host.deliver(stored, self.select(namespace, opts), opts)
        self.publish(namespace, MessageType.BROADCAST,
                     {"packet": wire.packet_to_wire(packet), "opts": wire.opts_to_wire(opts)})
        return self.host.deliver(packet, self.select(namespace, opts), opts)

    def store_packet(self, namespace: str, packet: Packet, opts: BroadcastOptions) -> Packet:
        """Add the broadcast to the stream; the packet with its entry id appended (unchanged if Redis
        did not take it: delivered, but not recoverable)."""
        entry = self._xadd({"uid": self.uid, "nsp": namespace, "type": int(MessageType.BROADCAST),
                            "data": {"packet": wire.packet_to_wire(packet), "opts": wire.opts_to_wire(opts)}})
        if entry is None:
            return packet
        return Packet(packet.type, packet.namespace, [*packet.data, entry], packet.id)

    def _reader_delivers(self, entry: StreamId) -> bool:
        """Whether this node's reader delivers the own stored broadcast ``entry``; waits until it did.

        A client's offset is the last one it received, so each socket must get
        the stored broadcasts in stream order: an own broadcast delivered right
        after its ``XADD`` could overtake an earlier entry of another node that
        the reader has not handled yet, and a client cut off just then would
        send that earlier offset and get the own broadcast again in its replay.
        The reader delivers own entries like the others; the broadcaster waits
        (at most ``publish_timeout``) so that the emit returns after the local
        delivery. False when the reader will not see the entry (it started
        after it): the caller delivers it.
        """
        if RUNTIME.getcurrent() is self._reader:
            return True  # a handler run by the reader: it reaches the entry once this returns
        deadline = time.monotonic() + self.link.publish_timeout
        while not self._closed and (self._position is None or self._position < entry):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._advanced.wait(remaining)
        position = self._position
        if position is None:
            return False  # the reader has not started: it will start from the newest entry, past this one
        if self._closed and position < entry:
            return False  # the reader stopped before it
        return self._read_from < entry

    # ------------------------------------------------------------ stream reader
    def _read_loop(self) -> None:
        """``XREAD BLOCK`` from the last handled entry, on a connection of its own, for ever."""
        backoff = Backoff()
        while not self._closed:
            client = None
            try:
                client = self.link.dedicated_client(self.block_time + self.link.publish_timeout)
                if self._position is None:
                    self._position = self._read_from = self._last_entry(client)
                else:
                    self._check_gap(client)
                self.reader_connected = True
                backoff.reset()
                while not self._closed:
                    reply = client.xread({self.stream_name: format_id(self._position)}, count=self.read_count,
                                         block=int(self.block_time * 1000))
                    for entry, fields in _entries(reply):
                        self._on_entry(entry, fields)
                    self._wake_broadcasters()
            except Exception as exc:  # noqa: BLE001 - reconnect on any failure
                if self._closed:
                    return
                if self.reader_connected:
                    self.logger.warning("stream reader lost Redis (%s): reconnecting", type(exc).__name__)
                self.reader_connected = False
                RUNTIME.sleep(backoff.next())
            finally:
                if client is not None:
                    try:
                        client.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass

    def _wake_broadcasters(self) -> None:
        advanced, self._advanced = self._advanced, RUNTIME.Event()
        advanced.set()

    def _last_entry(self, client: Any) -> StreamId:
        """Where a new reader starts: the newest entry (Node's ``$``, but an id a reconnect can resume from)."""
        newest = client.xrevrange(self.stream_name, "+", "-", count=1)
        if newest:
            return parse_id(newest[0][0]) or ZERO
        return ZERO

    def _check_gap(self, client: Any) -> None:
        """After a reconnect: count it when entries this node had not read were trimmed meanwhile."""
        if self._position is not None and _lost_after(_stream_info(client, self.stream_name), self._position):
            self.stream_gaps += 1
            self.logger.warning("stream %s was trimmed past this node's position during an outage",
                                self.stream_name)

    def _on_entry(self, entry: Any, fields: Any) -> None:
        entry_id = parse_id(entry)
        if entry_id is None:
            return
        # moved before delivery: a restore that sees this position replays the entry, and the
        # delivery below (recipients selected now) does not reach the socket it restores
        self._position = entry_id
        self.entries_read += 1
        if self._floors:
            self._prune_floors()
        try:
            message = decode_entry(fields, self.limits)
            data = message.get("data")
            if message["type"] == MessageType.BROADCAST and type(data) is dict and data.get("requestId") is None:
                self._stream_broadcast(message, format_id(entry_id), data)
            else:
                self.on_message(message)
        except wire.WireError as exc:
            self.drops.drop("invalid entry", str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad entry never ends the reader
            self.logger.error("error handling stream entry %s", format_id(entry_id), exc_info=exc)

    def _stream_broadcast(self, message: Dict[str, Any], entry: str, data: Dict[str, Any]) -> None:
        """A broadcast entry: delivered once to the local recipients, with its offset if stored.

        This node's own entries are delivered here only when stored (recovery on, no ack, not
        volatile): :meth:`broadcast` left them to the reader so that they keep their stream order.
        """
        namespace = message["nsp"]
        if namespace not in self.namespaces:
            return
        self._deliver_remote(namespace, data, entry, own=message["uid"] == self.uid)

    def _remote_broadcast(self, uid: str, namespace: str, data: Dict[str, Any]) -> None:
        """A broadcast that came over pub/sub: with acks as usual; a plain one (no node sends it there)
        is delivered without an offset, and never written to the stream again."""
        if data.get("requestId") is None:
            self._deliver_remote(namespace, data, None)
        else:
            super()._remote_broadcast(uid, namespace, data)

    def _deliver_remote(self, namespace: str, data: Dict[str, Any], entry: Optional[str], own: bool = False) -> None:
        packet = wire.packet_from_wire(data.get("packet"), namespace)
        opts = wire.opts_from_wire(data.get("opts"), self.limits)
        stored = entry is not None and self.recovery is not None and packet.id is None and not opts.volatile
        if own and not stored:
            return  # delivered by broadcast() itself
        sids = self.select(namespace, opts)
        if stored:
            packet = Packet(PacketType.EVENT, namespace, [*packet.data, entry])
            if self._floors:
                sids = self.past_floor(sids, self._position or ZERO)  # the entry being handled
        elif packet.id is not None:
            packet = Packet(PacketType.EVENT, namespace, packet.data)
        assert self.host is not None
        self.host.deliver(packet, sids, opts)


def _entries(reply: Any) -> List[Any]:
    """``(id, fields)`` pairs of an ``XREAD`` reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        out: List[Any] = []
        for value in reply.values():
            out.extend(value[0] if value and isinstance(value[0], list) else value)
        return out
    return list(reply[0][1])
