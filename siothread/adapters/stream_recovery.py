"""Connection-state recovery on a Redis stream: join positions, session keys, the replay of missed entries.

The part of :class:`~siothread.adapters.redis_streams.RedisStreamsManager` that
keeps the in-process recovery's protections cluster-wide:

- every socket's stream position when it connected and when it joined each
  room (``joined``), kept with its session, so a replay never starts before
  the connection and includes a room's broadcasts only from the join on;
- sessions as Node's ``SET <prefix><pid> <base64 msgpack> PX <ttl>``, plus an
  index (a sorted set by expiry) that caps their number; taken once
  (``GET`` + ``DEL`` in one script);
- the replay: entries after the start up to what this node delivered live
  (its reader's position, its own last entry), where the live delivery takes
  over with no yield in between; the restored socket's *floor* keeps live
  deliveries of replayed entries from it (each missed event once); trimmed
  entries make the recovery fail (:func:`_lost_after`).

Reference: ``socketio/socket.io-redis-streams-adapter: lib/adapter.ts``
(``persistSession``, ``restoreSession``).
"""
from __future__ import annotations

import base64
import binascii
import time
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ..engine._runtime import RUNTIME
from ..protocol.socketio import Packet
from . import wire
from .base import RecoveredSession, RecoveryOptions
from .memory import MemoryManager
from .redis_link import LinkUnavailable, RedisLink
from .stream_entries import ZERO, StreamId, decode_entry, format_id, missed_packet, parse_id

__all__ = ["StreamRecovery"]

#: store a session and index it by expiry; evict expired and, past the cap, the oldest ones.
#: KEYS: session key, index key. ARGV: value, ttl ms, max sessions.
_PERSIST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then
  for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, extra - 1)) do redis.call('DEL', key) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
end
redis.call('PEXPIRE', KEYS[2], ttl)
return extra
"""

#: take a session once (GET + DEL, Node's GETDEL) and drop it from the index. KEYS: session key, index key.
_TAKE = """
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
end
return value
"""


class StreamRecovery(MemoryManager):
    """Recovery methods of the streams manager (a mixin placed before its cluster adapter base)."""

    # set by RedisStreamsManager.__init__
    link: RedisLink
    stream_name: str
    max_len: int
    read_count: int
    session_key_prefix: str
    session_index: str
    dropped_sessions: int
    limits: wire.WireLimits
    drops: wire.DropLog
    logger: Any
    _position: Optional[StreamId]
    _own_last: StreamId
    _floors: Dict[str, Tuple[StreamId, float]]
    _floors_checked: float
    _joined: Dict[str, Dict[str, Dict[str, StreamId]]]
    _persisting: Dict[str, Any]

    # ------------------------------------------------- membership positions
    def _now(self) -> StreamId:
        """This node's stream position: everything up to here was delivered live."""
        position = self._position or ZERO
        return position if position > self._own_last else self._own_last

    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        super().connect(namespace, sid, eio_sid)
        if self.recovery is not None:
            self._joined.setdefault(namespace, {}).setdefault(sid, {}).setdefault(sid, self._now())

    def enter_room(self, namespace: str, sid: str, room: str) -> None:
        super().enter_room(namespace, sid, room)
        if self.recovery is not None:
            rooms = self._joined.get(namespace, {}).get(sid)
            if rooms is not None and room not in rooms and self.is_connected(namespace, sid):
                rooms[room] = self._now()

    def leave_room(self, namespace: str, sid: str, room: str) -> None:
        super().leave_room(namespace, sid, room)
        if room != sid:
            self._joined.get(namespace, {}).get(sid, {}).pop(room, None)

    def disconnect(self, namespace: str, sid: str) -> None:
        super().disconnect(namespace, sid)
        self._floors.pop(sid, None)
        sids = self._joined.get(namespace)
        if sids is not None:
            sids.pop(sid, None)
            if not sids:
                del self._joined[namespace]

    # -------------------------------------------------- connection-state recovery
    def enable_recovery(self, options: RecoveryOptions) -> None:
        self.recovery = options
        for namespace, sids in self._sids.items():
            for sid, rooms in sids.items():
                self._joined.setdefault(namespace, {})[sid] = {room: self._now() for room in rooms}

    def persist_session(self, namespace: str, sid: str, pid: str, data: Dict[str, Any]) -> None:
        """Store the session in Redis (Node's format plus ``nsp`` and ``joined``), without waiting for it."""
        recovery = self.recovery
        joined = self._joined.get(namespace, {}).get(sid)
        if recovery is None or joined is None or self.host is None:
            return
        session = {"sid": sid, "pid": pid, "rooms": self.get_rooms(namespace, sid), "data": data,
                   "nsp": namespace, "joined": {room: format_id(at) for room, at in joined.items()}}
        try:
            value = base64.b64encode(wire.encode_msgpack(session))
        except (TypeError, ValueError) as exc:
            self.logger.error("session of %s not kept for recovery: %s", sid, exc)
            return
        done = self._persisting[pid] = RUNTIME.Event()
        ttl = max(1, int(recovery.max_disconnection_duration * 1000))

        def write() -> None:
            try:
                self.link.command("EVAL", _PERSIST, 2, self.session_key_prefix + pid, self.session_index,
                                  value, ttl, recovery.max_sessions)
            except LinkUnavailable as exc:
                self.dropped_sessions += 1
                self.logger.warning("session of %s not kept for recovery: %s", sid, exc)
            finally:
                done.set()
                if self._persisting.get(pid) is done:
                    del self._persisting[pid]

        self.host.runtime.spawn(write)

    def restore_session(self, namespace: str, pid: str, offset: Optional[str]) -> Optional[RecoveredSession]:
        """The session of ``pid`` with every entry it missed, or None (a new session).

        - The session is taken once (read and deleted atomically), only in its namespace.
        - The replay starts after the client's offset, never before the socket
          connected, and includes a room's broadcasts only from when the
          socket joined that room; an offset newer than the stream is refused.
        - If entries after that start were trimmed (``MAXLEN``), or Redis lost
          the stream or the session (restarted), the answer is None, never a
          partial session.
        - Entries up to this node's stream position are replayed, later ones
          arrive live: each missed event once, in stream order.
        """
        if self.recovery is None:
            return None
        client_offset = None
        if offset is not None:
            client_offset = parse_id(offset)
            if client_offset is None:
                return None
        pending = self._persisting.get(pid)
        if pending is not None:
            pending.wait(self.link.publish_timeout)
        try:
            raw = self.link.command("EVAL", _TAKE, 2, self.session_key_prefix + pid, self.session_index)
            if raw is None:
                return None
            session = self._decode_session(raw, namespace, pid)
            if session is None:
                return None
            sid, rooms, data, joined = session
            start = client_offset
            connected_at = joined.get(sid)
            if connected_at is not None:
                start = connected_at if start is None else max(start, connected_at)
            if start is None:
                return None  # a Node session and a client that received nothing: Node refuses too
            replayed = self._replay(namespace, frozenset(rooms), joined, start, client_offset)
        except LinkUnavailable as exc:
            self.logger.warning("session not restored: %s", exc)
            return None
        except wire.WireError as exc:
            self.drops.drop("invalid session", str(exc))
            return None
        if replayed is None:
            return None
        missed, floor = replayed
        self._set_floor(sid, floor)
        return RecoveredSession(sid=sid, pid=pid, rooms=rooms, data=data, missed=missed)

    def _decode_session(self, raw: Any, namespace: str, pid: str) -> Any:
        if not isinstance(raw, bytes) or len(raw) > self.limits.max_bytes * 2:
            raise wire.WireError("session value too large")
        try:
            value = wire.decode(base64.b64decode(raw, validate=True), self.limits)
        except (binascii.Error, ValueError) as exc:
            raise wire.WireError(f"session value: {exc}") from None
        if type(value) is not dict or value.get("pid", pid) != pid:
            raise wire.WireError("session value is not this pid's session")
        nsp = value.get("nsp")
        if nsp is not None and nsp != namespace:
            return None  # a pid of another namespace
        sid = wire.text(value.get("sid"), "sid", 256)
        rooms = wire.rooms(value.get("rooms"), self.limits)
        if sid not in rooms:
            rooms.insert(0, sid)
        data = value.get("data")
        joined: Dict[str, StreamId] = {}
        raw_joined = value.get("joined")
        if raw_joined is not None:
            if type(raw_joined) is not dict:
                raise wire.WireError("joined must be a map")
            for room, at in raw_joined.items():
                position = parse_id(at)
                if position is None:
                    raise wire.WireError("joined holds an invalid stream id")
                joined[room] = position
        return sid, rooms, data if type(data) is dict else {}, joined

    def _replay(self, namespace: str, rooms: FrozenSet[str], joined: Dict[str, StreamId], start: StreamId,
                client_offset: Optional[StreamId]) -> Optional[Tuple[List[Packet], StreamId]]:
        """The missed packets and the last entry they cover (the socket's floor), or None."""
        info = _stream_info(self.link, self.stream_name)
        if info is None:
            # no stream: nothing was broadcast since, unless the client names an entry (then Redis lost it)
            return ([], start) if client_offset is None else None
        last = parse_id(info.get(b"last-generated-id")) or ZERO
        if client_offset is not None and client_offset > last:
            return None  # an offset no node gave out
        if _lost_after(info, start):
            return None  # trimmed or deleted entries this client may not have received
        deadline = time.monotonic() + self.link.publish_timeout
        missed: List[Packet] = []
        cursor, scanned, budget = start, 0, 2 * self.max_len + self.read_count
        while True:
            # everything this node delivered live so far: what the reader handled and what it added itself
            end = max(self._position or ZERO, self._own_last)
            if cursor >= end:
                # no yield from here until the socket is registered: later entries arrive live, and
                # entries up to the floor are kept from it (an own broadcast still waiting for its XADD)
                return missed, cursor
            entries = self.link.command("XRANGE", self.stream_name, "(" + format_id(cursor), format_id(end),
                                        "COUNT", max(100, self.read_count))
            if not entries:
                cursor = end
            for entry, fields in entries or ():
                entry_id = parse_id(entry)
                if entry_id is None or entry_id > end:
                    continue
                cursor = entry_id
                scanned += 1
                try:
                    packet = missed_packet(decode_entry(fields, self.limits), format_id(entry_id), entry_id,
                                           namespace, rooms, joined, start, self.limits)
                except wire.WireError as exc:
                    self.drops.drop("invalid entry", str(exc))
                    continue
                if packet is not None:
                    missed.append(packet)
            if scanned > budget or time.monotonic() > deadline:
                return None  # the stream grows faster than it can be read: fail, never half-restore

    # ------------------------------------------------------------------- floors
    def _set_floor(self, sid: str, floor: StreamId) -> None:
        """A restored socket was given every entry up to ``floor``: live deliveries of those skip it
        until this node's reader is past the floor and any broadcast then waiting for its XADD is done."""
        self._floors[sid] = (floor, time.monotonic() + self.link.publish_timeout)

    def past_floor(self, sids: List[str], entry: StreamId) -> List[str]:
        """``sids`` without the restored sockets that already got ``entry`` in their replay."""
        floors = self._floors
        return [sid for sid in sids if sid not in floors or floors[sid][0] < entry]

    def _prune_floors(self) -> None:
        now = time.monotonic()
        if now < self._floors_checked + 0.5:
            return
        self._floors_checked = now
        position = self._position or ZERO
        for sid, (floor, not_before) in list(self._floors.items()):
            if floor <= position and now >= not_before:
                del self._floors[sid]


def _stream_info(client: Any, stream: str) -> Optional[Dict[bytes, Any]]:
    """``XINFO STREAM`` as a dict (None when the stream does not exist); ``client`` is redis-py or a link."""
    try:
        if isinstance(client, RedisLink):
            reply = client.command("XINFO", "STREAM", stream)
        else:
            reply = client.execute_command("XINFO", "STREAM", stream)
    except LinkUnavailable as exc:
        if "no such key" in str(exc).lower():
            return None
        raise
    except Exception as exc:  # noqa: BLE001 - redis-py's ResponseError
        if "no such key" in str(exc).lower():
            return None
        raise
    if isinstance(reply, dict):
        return {(k if isinstance(k, bytes) else str(k).encode()): v for k, v in reply.items()}
    if isinstance(reply, list):
        return {reply[i]: reply[i + 1] for i in range(0, len(reply) - 1, 2)}
    return None


def _lost_after(info: Optional[Dict[bytes, Any]], start: StreamId) -> bool:
    """Whether an entry newer than ``start`` is no longer in the stream.

    Trimming (``MAXLEN``) removes the oldest entries: one newer than ``start``
    is gone when the first remaining entry is newer than ``start`` and entries
    were ever removed (``entries-added`` > ``length``; where Redis < 7 does not
    say, the first entry alone decides: Node's rule that the client's offset
    must still exist). ``XDEL`` shows in ``max-deleted-entry-id``.
    """
    if info is None:
        return False
    deleted = parse_id(info.get(b"max-deleted-entry-id"))
    if deleted is not None and deleted > start:
        return True
    first = parse_id(info.get(b"recorded-first-entry-id"))
    if first is None:
        entry = info.get(b"first-entry")
        first = parse_id(entry[0]) if isinstance(entry, (list, tuple)) and entry else None
    if first is None or first <= start:
        return False
    added, length = info.get(b"entries-added"), info.get(b"length")
    if isinstance(added, int) and isinstance(length, int):
        return added > length
    return True
