"""The adapter interface: the only place that knows which socket is in which room.

The Socket.IO server never keeps room membership itself. It asks its adapter
(``client_manager=``) to add and remove sockets, to resolve a target
(rooms minus excluded rooms) into recipients, and to carry out the
"socket management" operations of Node's ``socket.io-adapter``
(``fetchSockets``, ``socketsJoin``, ``socketsLeave``, ``disconnectSockets``,
``serverSideEmit``). An in-process adapter (:class:`~siothread.adapters.memory.MemoryManager`)
resolves everything locally; a cluster adapter (Redis) forwards each request to
the other nodes and merges their answers, so every method below is phrased so
that it can be made cluster-wide without changing the server.

An adapter reaches the server only through :class:`AdapterHost`, the small
interface the server hands to :meth:`Adapter.attach`: deliver a packet to local
sids (encoded once per broadcast, the same prepared frames to every local
recipient), deliver with an ack collector, describe or disconnect a local
socket, run a server-side event from another node, and the runtime for timers
and background work. Nothing in ``siothread.adapters`` imports the server
package; ``docs/architecture.md`` describes this contract for cluster adapters.

Reference: ``socketio/socket.io: packages/socket.io-adapter/lib/in-memory-adapter.ts``
(``Adapter``: ``addAll``/``del``/``delAll``/``broadcast``/``broadcastWithAck``/
``fetchSockets``/``addSockets``/``delSockets``/``disconnectSockets``/``serverCount``).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Protocol, Tuple,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol.socketio import Packet

__all__ = [
    "Adapter", "AdapterHost", "AckCollector", "BroadcastOptions", "SocketDetails", "RoomListener",
    "RecoveryOptions", "RecoveredSession",
]

#: ``listener(kind, namespace, room, sid)`` with kind ``"join"`` or ``"leave"``.
RoomListener = Callable[[str, str, str, str], None]


def _as_frozenset(value: Any) -> FrozenSet[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


@dataclass(frozen=True)
class BroadcastOptions:
    """Who receives a broadcast and how (Node's ``BroadcastOptions`` + ``BroadcastFlags``).

    Attributes:
        rooms: target rooms; empty means every socket of the namespace. A socket
            in several target rooms receives the packet once.
        except_rooms: rooms whose members are skipped. A sid is a room, so
            ``skip_sid`` values go here too.
        volatile: drop the packet for a recipient that cannot take it right now.
        compress: per-emit compression flag; ``None`` keeps the server default.
        local: only this node (python-socketio's ``ignore_queue``, Node's ``local``).
    """

    rooms: FrozenSet[str] = field(default_factory=frozenset)
    except_rooms: FrozenSet[str] = field(default_factory=frozenset)
    volatile: bool = False
    compress: Optional[bool] = None
    local: bool = False

    @classmethod
    def build(
        cls,
        rooms: Any = None,
        except_rooms: Any = None,
        *,
        volatile: bool = False,
        compress: Optional[bool] = None,
        local: bool = False,
    ) -> "BroadcastOptions":
        """Options from a room name, a list of rooms, or None (everyone)."""
        return cls(_as_frozenset(rooms), _as_frozenset(except_rooms), volatile, compress, local)


@dataclass
class SocketDetails:
    """A socket as ``fetch_sockets`` reports it (Node's ``SocketDetails``).

    ``data`` is the socket's session dictionary (python-socketio's
    ``get_session``), ``handshake`` a JSON-serialisable description of the
    connection request (headers, query, address, time, issued, url, secure, auth).
    """

    id: str
    namespace: str
    rooms: List[str]
    data: Dict[str, Any]
    handshake: Dict[str, Any]


@dataclass(frozen=True)
class RecoveryOptions:
    """Connection-state recovery settings (``Server(recovery=...)``, Node's ``connectionStateRecovery``).

    Attributes:
        max_disconnection_duration: seconds a disconnected socket's session and
            the packets it may have missed are kept.
        skip_middlewares: a recovered socket skips the connect middlewares
            (``sio.use``); its connect handler still runs.
        max_stored_packets: packets kept for replay, all namespaces together.
        max_sessions: disconnected sessions kept; the oldest go first.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_stored_packets: int = 10_000
    max_sessions: int = 100_000


@dataclass
class RecoveredSession:
    """What :meth:`Adapter.restore_session` gives back: the socket's identity and state.

    ``missed`` holds the stored EVENT packets (offset appended) the socket is to
    receive, in emission order.
    """

    sid: str
    pid: str
    rooms: List[str]
    data: Dict[str, Any]
    missed: List["Packet"]


class AckCollector(Protocol):
    """Gathers the acks of one broadcast with acks (the server's ``BroadcastAckCollector``).

    A cluster adapter reports remote recipients and their answers through it.
    """

    #: seconds the broadcaster waits for acks (None: no limit); a cluster
    #: adapter passes it on so other nodes clean up after the same delay
    timeout: Optional[float]

    def register(self, sid: str, table: Dict[int, Any]) -> None:
        """A local recipient: the collector puts an entry in the socket's ack table."""

    def expect_remote(self, sid: str) -> None:
        """A recipient on another node whose ack the adapter will forward."""

    def server_reached(self, count: int) -> None:
        """One server (this one or a remote one) reached ``count`` clients."""

    def ack(self, sid: str, args: List[Any]) -> None:
        """``sid`` acknowledged with ``args``."""

    def left(self, sid: str) -> None:
        """``sid`` disconnected before acknowledging."""


class AdapterHost(Protocol):
    """Everything an adapter may ask of its server: the one-way seam from ``adapters/`` to ``server/``.

    The server passes an object with these members to :meth:`Adapter.attach`.
    ``deliver`` and ``deliver_with_ack`` take sids this node owns (as returned by
    :meth:`Adapter.select`); sids that are gone or disconnecting are skipped.
    """

    #: spawn, sleep, monotonic, call_later (``siothread.engine._runtime.Runtime``)
    runtime: Any

    def deliver(self, packet: "Packet", sids: List[str], opts: "BroadcastOptions") -> int:
        """Send ``packet`` to the local ``sids`` (encoded once); returns how many it reached."""
        ...

    def deliver_with_ack(
        self, packet: "Packet", sids: List[str], opts: "BroadcastOptions", collector: AckCollector
    ) -> int:
        """As :meth:`deliver`, registering each reached sid with ``collector`` first."""
        ...

    def local_details(self, sid: str) -> Optional["SocketDetails"]:
        """Id, namespace, rooms, data and handshake of a connected local socket (None if unknown)."""
        ...

    def local_disconnect(self, sid: str, close: bool) -> None:
        """Disconnect a local socket; ``close`` also closes its Engine.IO connection."""

    def handle_server_side_emit(self, namespace: str, event: str, args: List[Any]) -> Any:
        """Run this server's handler for an event another node sent with ``server_side_emit``."""

    def next_ack_id(self) -> int:
        """A fresh ack id of this server (a broadcast with acks from another node is renumbered with it)."""
        ...


class Adapter(abc.ABC):
    """Room membership and socket selection for one :class:`~siothread.server.Server`.

    An adapter instance serves every namespace of one server; every method takes
    the namespace first. Methods that act on "the matching sockets" take a
    :class:`BroadcastOptions` and apply to all nodes unless ``opts.local``.
    """

    #: set by :meth:`enable_recovery`; while set, :meth:`broadcast` stores packets for replay
    recovery: Optional[RecoveryOptions] = None

    def __init__(self) -> None:
        self.host: Optional[AdapterHost] = None
        self._room_listeners: List[RoomListener] = []

    # -- lifecycle -------------------------------------------------------
    def attach(self, host: AdapterHost) -> None:
        """Bind the adapter to its server's :class:`AdapterHost` (called once by the server constructor)."""
        if self.host is not None and self.host is not host:
            raise ValueError("this adapter already belongs to another server")
        self.host = host

    def initialize(self) -> None:  # noqa: B027 - optional hook, a no-op in process
        """Start background work (connections to a broker). Called lazily on first use, and by
        each worker process as it starts (an adapter inherited through a fork joins from there)."""

    def release(self) -> None:  # noqa: B027 - optional hook, a no-op in process
        """Leave the cluster and close the connections, staying attached: a later
        :meth:`initialize` joins again. A pre-fork master calls it before forking its workers
        (it serves no client, and its connections must not be inherited)."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op in process
        """Release resources; called by ``Server.shutdown``."""

    def server_count(self) -> int:
        """Number of Socket.IO servers in the cluster (1 for an in-process adapter)."""
        return 1

    # -- room events ------------------------------------------------------
    def add_room_listener(self, listener: RoomListener) -> None:
        """Be told about every room join and leave (used by the admin instrumentation)."""
        self._room_listeners.append(listener)

    def _notify_room(self, kind: str, namespace: str, room: str, sid: str) -> None:
        for listener in self._room_listeners:
            listener(kind, namespace, room, sid)

    # -- local membership -------------------------------------------------
    @abc.abstractmethod
    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        """Register a socket; it joins its own room (named after its sid)."""

    @abc.abstractmethod
    def disconnect(self, namespace: str, sid: str) -> None:
        """Remove a socket from every room it is in."""

    @abc.abstractmethod
    def is_connected(self, namespace: str, sid: str) -> bool:
        """Whether ``sid`` is a socket of ``namespace`` known to this adapter."""

    @abc.abstractmethod
    def enter_room(self, namespace: str, sid: str, room: str) -> None:
        """Add a connected socket to a room (no-op for an unknown socket)."""

    @abc.abstractmethod
    def leave_room(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket from a room."""

    @abc.abstractmethod
    def close_room(self, namespace: str, room: str) -> None:
        """Remove every socket from a room (on every node unless local)."""

    @abc.abstractmethod
    def get_rooms(self, namespace: str, sid: str) -> List[str]:
        """The rooms of a socket, its own sid room first."""

    @abc.abstractmethod
    def get_namespaces(self) -> List[str]:
        """Namespaces that have at least one socket."""

    @abc.abstractmethod
    def get_participants(self, namespace: str, room: Optional[str]) -> Iterator[Tuple[str, str]]:
        """``(sid, eio_sid)`` of the local sockets in ``room`` (the namespace when None)."""

    @abc.abstractmethod
    def select(self, namespace: str, opts: BroadcastOptions) -> List[str]:
        """Local sids matching ``opts`` (each once, excluded rooms removed)."""

    # -- broadcasting -----------------------------------------------------
    def broadcast(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> int:
        """Deliver ``packet`` to every matching socket; returns the local recipient count.

        With recovery enabled, a packet without ack id that is not volatile is
        stored first and delivered with its offset as the last argument.
        """
        assert self.host is not None
        if self.recovery is not None and packet.id is None and not opts.volatile:
            packet = self.store_packet(namespace, packet, opts)
        return self.host.deliver(packet, self.select(namespace, opts), opts)

    def broadcast_with_ack(
        self, namespace: str, packet: "Packet", opts: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Deliver ``packet`` (which carries an ack id) and gather one ack per recipient.

        Each node reports how many clients it reached with
        ``collector.server_reached(count)``; acks arrive through the sockets' ack
        tables. A cluster adapter also forwards remote acks to the collector.
        """
        assert self.host is not None
        count = self.host.deliver_with_ack(packet, self.select(namespace, opts), opts, collector)
        collector.server_reached(count)

    # -- connection-state recovery (Node's SessionAwareAdapter) -------------
    def enable_recovery(self, options: RecoveryOptions) -> None:
        """Start storing packets and sessions (called by the server constructor).

        An adapter that cannot store them raises ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support connection-state recovery")

    def store_packet(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> "Packet":
        """Store an EVENT for replay; return it with its offset (a string) appended to its data."""
        raise NotImplementedError

    def persist_session(self, namespace: str, sid: str, pid: str, data: Dict[str, Any]) -> None:
        """Keep the session of a socket that lost its connection: its sid, rooms and ``data``.

        Called before the socket's rooms are removed; ``pid`` is the secret the
        client presents to get the session back.
        """
        raise NotImplementedError

    def restore_session(self, namespace: str, pid: str, offset: Optional[str]) -> Optional[RecoveredSession]:
        """Take back the session of ``pid`` with the packets emitted after ``offset``.

        ``offset`` is None when the client received no stored packet yet: the
        replay starts where the socket connected. Returns None when the session
        is unknown or expired, or when packets the client may have missed are
        no longer stored.
        """
        raise NotImplementedError

    # -- socket management (Node's fetchSockets & co) ----------------------
    def fetch_sockets(self, namespace: str, opts: BroadcastOptions) -> List[SocketDetails]:
        """Details of every matching socket."""
        assert self.host is not None
        out = []
        for sid in self.select(namespace, opts):
            details = self.host.local_details(sid)
            if details is not None:
                out.append(details)
        return out

    def add_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make every matching socket join ``rooms``."""
        rooms = list(rooms)
        for sid in self.select(namespace, opts):
            for room in rooms:
                self.enter_room(namespace, sid, room)

    def del_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make every matching socket leave ``rooms``."""
        rooms = list(rooms)
        for sid in self.select(namespace, opts):
            for room in rooms:
                self.leave_room(namespace, sid, room)

    def disconnect_sockets(self, namespace: str, opts: BroadcastOptions, close: bool = False) -> None:
        """Disconnect every matching socket; ``close`` also closes its Engine.IO connection."""
        assert self.host is not None
        for sid in self.select(namespace, opts):
            self.host.local_disconnect(sid, close)

    def server_side_emit(
        self,
        namespace: str,
        event: str,
        args: List[Any],
        callback: Optional[Callable[[List[Any]], None]] = None,
        timeout: Optional[float] = None,
    ) -> None:
        """Send an event to the *other* servers of the cluster.

        ``callback(responses)`` receives one response per other server. An
        in-process adapter has no other server: the callback gets ``[]`` at once.
        """
        if callback is not None:
            callback([])
