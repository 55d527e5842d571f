"""In-process storage for connection-state recovery: a packet log and persisted sessions.

Node's ``SessionAwareAdapter`` (``socketio/socket.io:
packages/socket.io-adapter/lib/in-memory-adapter.ts``) keeps every stored
packet with an offset and every disconnected socket's session (sid, pid,
rooms, data), and on reconnection replays the packets after the client's
last offset that target the session's rooms. This store does the same, with
these differences:

- Offsets are consecutive sequence numbers (lower-case hex strings), so the
  log is indexed by arithmetic, and a missing packet is detectable.
- Everything is bounded: packets expire after ``max_disconnection_duration``
  and at most ``max_stored_packets`` are kept; at most ``max_sessions``
  sessions are kept (the oldest go first). Expiry happens on every write and
  on a timer that only runs while something is stored.
- A client that received no event yet (no offset, socketio/socket.io#5538)
  is recovered too: the replay starts where the socket connected.
- A packet is replayed only if the socket was in a target room when it was
  emitted (each room's join position is recorded), and never from before the
  socket connected, whatever offset the client sends. The pid is the secret
  (the server generates it with :mod:`secrets`); the offset only says where
  to resume.
- If the ``max_stored_packets`` cap dropped a packet the client might have
  missed, the recovery fails (a new session) rather than silently skipping it.
  Packets that expired by age were emitted while the socket was still
  connected, so their loss does not matter.
- A session is restored once: a second reconnection with the same pid needs
  the session to be persisted again.
"""
from __future__ import annotations

import itertools
import re
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, FrozenSet, List, Optional

from .base import BroadcastOptions, RecoveredSession, RecoveryOptions

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol.socketio import Packet

__all__ = ["SessionStore"]

_OFFSET = re.compile(r"[0-9a-f]{1,16}")


class _Entry:
    __slots__ = ("seq", "at", "namespace", "rooms", "except_rooms", "packet")

    def __init__(self, seq: int, at: float, namespace: str, rooms: FrozenSet[str],
                 except_rooms: FrozenSet[str], packet: "Packet") -> None:
        self.seq = seq
        self.at = at
        self.namespace = namespace
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.packet = packet


class _Session:
    __slots__ = ("namespace", "sid", "rooms", "data", "at")

    def __init__(self, namespace: str, sid: str, rooms: Dict[str, int], data: Dict[str, Any], at: float) -> None:
        self.namespace = namespace
        self.sid = sid
        self.rooms = rooms  # room -> sequence number when the socket joined it
        self.data = data
        self.at = at


class SessionStore:
    """The packet log and the sessions of one adapter (every namespace).

    The owning adapter reports membership changes (:meth:`joined`,
    :meth:`left`, :meth:`forget`) so the store knows since when a socket is in
    each room.

    Args:
        options: the server's :class:`RecoveryOptions`.
        clock: a monotonic clock in seconds.
        call_later: ``call_later(delay, fn)`` returning a handle with ``cancel()``,
            or None for expiry on writes only.
    """

    def __init__(self, options: RecoveryOptions, clock: Callable[[], float],
                 call_later: Optional[Callable[..., Any]] = None) -> None:
        self.options = options
        self._clock = clock
        self._call_later = call_later
        self._seq = 0
        self._log: Deque[_Entry] = deque()
        self._dropped = 0  # sequence number of the last packet the count cap evicted
        self._sessions: Dict[str, _Session] = {}  # pid -> session, oldest first
        self._joined: Dict[str, Dict[str, Dict[str, int]]] = {}  # namespace -> sid -> room -> seq
        self._timer: Any = None

    # -- membership -------------------------------------------------------
    def joined(self, namespace: str, sid: str, room: str) -> None:
        self._joined.setdefault(namespace, {}).setdefault(sid, {})[room] = self._seq

    def left(self, namespace: str, sid: str, room: str) -> None:
        rooms = self._joined.get(namespace, {}).get(sid)
        if rooms is not None:
            rooms.pop(room, None)

    def forget(self, namespace: str, sid: str) -> None:
        sids = self._joined.get(namespace)
        if sids is not None:
            sids.pop(sid, None)
            if not sids:
                del self._joined[namespace]

    # -- packets ----------------------------------------------------------
    def store(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> "Packet":
        """Log ``packet`` and return it with its offset appended as the last argument."""
        now = self._clock()
        self._seq += 1
        seq = self._seq
        stored = type(packet)(packet.type, packet.namespace, [*packet.data, format(seq, "x")], packet.id)
        log = self._log
        log.append(_Entry(seq, now, namespace, opts.rooms, opts.except_rooms, stored))
        if len(log) > self.options.max_stored_packets:
            self._dropped = log.popleft().seq
        self._expire(now)
        self._arm()
        return stored

    # -- sessions ---------------------------------------------------------
    def persist(self, namespace: str, sid: str, pid: str, data: Dict[str, Any]) -> None:
        """Keep a disconnected socket's session (its rooms as this store knows them)."""
        now = self._clock()
        rooms = dict(self._joined.get(namespace, {}).get(sid, {}))
        if sid not in rooms:
            return  # not a socket this store saw connect
        sessions = self._sessions
        sessions.pop(pid, None)
        sessions[pid] = _Session(namespace, sid, rooms, data, now)
        while len(sessions) > self.options.max_sessions:
            del sessions[next(iter(sessions))]
        self._expire(now)
        self._arm()

    def restore(self, namespace: str, pid: str, offset: Optional[str]) -> Optional[RecoveredSession]:
        """The session of ``pid`` with the packets it missed, or None (unknown, expired, gap)."""
        now = self._clock()
        self._expire(now)
        session = self._sessions.get(pid)
        if session is None or session.namespace != namespace:
            return None
        del self._sessions[pid]
        rooms = session.rooms
        start = rooms[session.sid]  # where the socket connected: nothing before is its business
        if offset is not None:
            if not _OFFSET.fullmatch(offset):
                return None
            seq = int(offset, 16)
            if seq > self._seq:
                return None  # an offset this server never gave out
            start = max(start, seq)
        if start < self._dropped:
            return None  # the cap evicted a packet this client may not have received
        missed: List["Packet"] = []
        log = self._log
        if log:
            first = log[0].seq
            for entry in itertools.islice(log, max(0, start + 1 - first), None):
                if entry.namespace != namespace:
                    continue
                if entry.except_rooms and any(room in rooms for room in entry.except_rooms):
                    continue
                if entry.rooms:
                    seq = entry.seq
                    if not any(rooms.get(room, seq) < seq for room in entry.rooms):
                        continue  # not in a target room when it was emitted
                missed.append(entry.packet)
        return RecoveredSession(sid=session.sid, pid=pid, rooms=list(rooms), data=session.data, missed=missed)

    # -- expiry -----------------------------------------------------------
    def _expire(self, now: float) -> None:
        threshold = now - self.options.max_disconnection_duration
        log = self._log
        while log and log[0].at < threshold:
            log.popleft()
        sessions = self._sessions
        while sessions:
            pid = next(iter(sessions))
            if sessions[pid].at >= threshold:
                break
            del sessions[pid]

    def _arm(self) -> None:
        if self._timer is None and self._call_later is not None and (self._log or self._sessions):
            self._timer = self._call_later(self.options.max_disconnection_duration, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        self._expire(self._clock())
        self._arm()

    def close(self) -> None:
        """Stop the expiry timer and drop everything."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._log.clear()
        self._sessions.clear()

    # -- introspection (tests, metrics) -------------------------------------
    @property
    def stored_packets(self) -> int:
        return len(self._log)

    @property
    def stored_sessions(self) -> int:
        return len(self._sessions)
