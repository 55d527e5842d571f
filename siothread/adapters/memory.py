"""In-process adapter: two indexes (room -> sids, sid -> rooms) per namespace.

Reference: ``socketio/socket.io: packages/socket.io-adapter/lib/in-memory-adapter.ts``
(``rooms`` / ``sids`` maps, ``apply`` with ``computeExceptSids``), and
python-socketio's ``base_manager.py`` for the method names (``enter_room``,
``leave_room``, ``close_room``, ``get_rooms``, ``get_participants``).

Dicts are used as ordered sets so broadcast order follows join order.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Set, Tuple

from .base import Adapter, BroadcastOptions, RecoveredSession, RecoveryOptions
from .recovery import SessionStore

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol.socketio import Packet

__all__ = ["MemoryManager"]


class MemoryManager(Adapter):
    """The default ``client_manager``: everything in this process.

    ``server_side_emit`` has no other server to reach, ``server_count()`` is 1.
    Connection-state recovery keeps its packets and sessions in a
    :class:`~siothread.adapters.recovery.SessionStore` in this process.
    """

    def __init__(self) -> None:
        super().__init__()
        # namespace -> room -> {sid: eio_sid}
        self._rooms: Dict[str, Dict[str, Dict[str, str]]] = {}
        # namespace -> sid -> set of rooms (its own sid room included)
        self._sids: Dict[str, Dict[str, Set[str]]] = {}
        #: connection-state recovery storage (None while recovery is off)
        self._store: Optional[SessionStore] = None

    # -- membership -------------------------------------------------------
    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        sids = self._sids.setdefault(namespace, {})
        if sid in sids:
            return
        sids[sid] = {sid}
        self._rooms.setdefault(namespace, {})[sid] = {sid: eio_sid}
        if self._store is not None:
            self._store.joined(namespace, sid, sid)

    def disconnect(self, namespace: str, sid: str) -> None:
        sids = self._sids.get(namespace)
        if sids is None:
            return
        rooms = sids.pop(sid, None)
        if rooms is None:
            return
        if self._store is not None:
            self._store.forget(namespace, sid)
        by_room = self._rooms[namespace]
        notify = self._room_listeners
        for room in rooms:
            members = by_room.get(room)
            if members is not None:
                members.pop(sid, None)
                if not members:
                    del by_room[room]
            if notify and room != sid:
                self._notify_room("leave", namespace, room, sid)
        if not sids:
            # Dynamic child namespaces come and go: drop empty indexes (Node's
            # cleanupEmptyChildNamespaces) so client-chosen names cannot pile up.
            del self._sids[namespace]
            self._rooms.pop(namespace, None)

    def is_connected(self, namespace: str, sid: str) -> bool:
        sids = self._sids.get(namespace)
        return sids is not None and sid in sids

    def enter_room(self, namespace: str, sid: str, room: str) -> None:
        if not isinstance(room, str):
            raise TypeError("a room name must be a string")
        sids = self._sids.get(namespace)
        if sids is None:
            return
        rooms = sids.get(sid)
        if rooms is None:
            return  # not connected: never resurrect a departed socket's rooms
        if room in rooms:
            return
        if room in sids:
            # A sid room addresses exactly one socket; letting others into it
            # would make emit(to=sid) reach the wrong clients.
            raise ValueError("cannot enter another socket's own room")
        by_room = self._rooms[namespace]
        eio_sid = by_room[sid][sid]
        rooms.add(room)
        by_room.setdefault(room, {})[sid] = eio_sid
        if self._store is not None:
            self._store.joined(namespace, sid, room)
        if self._room_listeners:
            self._notify_room("join", namespace, room, sid)

    def leave_room(self, namespace: str, sid: str, room: str) -> None:
        if room == sid:
            return  # a socket always stays in its own room
        sids = self._sids.get(namespace)
        if sids is None:
            return
        rooms = sids.get(sid)
        if rooms is None or room not in rooms:
            return
        rooms.discard(room)
        if self._store is not None:
            self._store.left(namespace, sid, room)
        by_room = self._rooms[namespace]
        members = by_room.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del by_room[room]
        if self._room_listeners:
            self._notify_room("leave", namespace, room, sid)

    def close_room(self, namespace: str, room: str) -> None:
        by_room = self._rooms.get(namespace)
        if by_room is None or room not in by_room:
            return
        for sid in list(by_room[room]):
            self.leave_room(namespace, sid, room)

    def get_rooms(self, namespace: str, sid: str) -> List[str]:
        sids = self._sids.get(namespace)
        if sids is None:
            return []
        rooms = sids.get(sid)
        if rooms is None:
            return []
        return [sid] + sorted(r for r in rooms if r != sid)

    def get_namespaces(self) -> List[str]:
        return list(self._sids)

    # -- connection-state recovery ----------------------------------------
    def enable_recovery(self, options: RecoveryOptions) -> None:
        assert self.host is not None
        runtime = self.host.runtime
        self._store = SessionStore(options, runtime.monotonic, runtime.call_later)
        for namespace, sids in self._sids.items():
            for sid, rooms in sids.items():
                for room in rooms:
                    self._store.joined(namespace, sid, room)
        self.recovery = options

    def store_packet(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> "Packet":
        assert self._store is not None
        return self._store.store(namespace, packet, opts)

    def persist_session(self, namespace: str, sid: str, pid: str, data: Dict[str, Any]) -> None:
        if self._store is not None:
            self._store.persist(namespace, sid, pid, data)

    def restore_session(self, namespace: str, pid: str, offset: Optional[str]) -> Optional[RecoveredSession]:
        if self._store is None:
            return None
        return self._store.restore(namespace, pid, offset)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def get_participants(self, namespace: str, room: Optional[str]) -> Iterator[Tuple[str, str]]:
        by_room = self._rooms.get(namespace)
        if by_room is None:
            return iter(())
        if room is None:
            return iter([(sid, by_room[sid][sid]) for sid in self._sids.get(namespace, ())])
        return iter(list(by_room.get(room, {}).items()))

    def room_size(self, namespace: str, room: str) -> int:
        """Members of a room on this node."""
        by_room = self._rooms.get(namespace)
        if by_room is None:
            return 0
        return len(by_room.get(room, ()))

    # -- selection --------------------------------------------------------
    def select(self, namespace: str, opts: BroadcastOptions) -> List[str]:
        by_room = self._rooms.get(namespace)
        if by_room is None:
            return []
        excluded: Set[str] = set()
        for room in opts.except_rooms:
            members = by_room.get(room)
            if members:
                excluded.update(members)
        if not opts.rooms:
            sids = self._sids.get(namespace, {})
            if not excluded:
                return list(sids)
            return [sid for sid in sids if sid not in excluded]
        if len(opts.rooms) == 1:
            (room,) = opts.rooms
            members = by_room.get(room)
            if not members:
                return []
            if not excluded:
                return list(members)
            return [sid for sid in members if sid not in excluded]
        seen: Dict[str, None] = {}
        for room in opts.rooms:
            members = by_room.get(room)
            if members:
                for sid in members:
                    if sid not in excluded:
                        seen[sid] = None
        return list(seen)
