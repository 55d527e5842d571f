"""Chainable broadcast operators and remote socket handles (Node's ``BroadcastOperator``).

``sio.to('room').except_('muted').volatile.timeout(5).emit('tick', 1)`` builds
an immutable operator step by step; the final call goes through the adapter,
like every other broadcast. Reference: ``socketio/socket.io:
packages/socket.io/lib/broadcast-operator.ts`` (``to``/``in``/``except``/
``compress``/``volatile``/``local``/``timeout``/``emit``/``emitWithAck``/
``fetchSockets``/``socketsJoin``/``socketsLeave``/``disconnectSockets``,
``RemoteSocket``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Union

from ..adapters.base import BroadcastOptions, SocketDetails, _as_frozenset
from .acks import BroadcastAckResult

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["BroadcastOperator", "RemoteSocket"]

Rooms = Union[None, str, List[str], tuple, set, frozenset]


class BroadcastOperator:
    """An immutable description of "who gets it, and how"; every modifier returns a new one."""

    __slots__ = ("_server", "_namespace", "_rooms", "_except", "_volatile", "_compress", "_local", "_timeout")

    def __init__(self, server: "Server", namespace: str, rooms: Rooms = None, except_rooms: Rooms = None,
                 volatile: bool = False, compress: Optional[bool] = None, local: bool = False,
                 timeout: Optional[float] = None) -> None:
        self._server = server
        self._namespace = namespace
        self._rooms: FrozenSet[str] = _as_frozenset(rooms)
        self._except: FrozenSet[str] = _as_frozenset(except_rooms)
        self._volatile = volatile
        self._compress = compress
        self._local = local
        self._timeout = timeout

    def _copy(self, **changes: Any) -> "BroadcastOperator":
        values = dict(rooms=self._rooms, except_rooms=self._except, volatile=self._volatile,
                      compress=self._compress, local=self._local, timeout=self._timeout)
        values.update(changes)
        return BroadcastOperator(self._server, self._namespace, **values)

    def _opts(self) -> BroadcastOptions:
        return BroadcastOptions(self._rooms, self._except, self._volatile, self._compress, self._local)

    # -- modifiers ---------------------------------------------------------
    def to(self, room: Rooms) -> "BroadcastOperator":
        """Add target rooms (a client in several of them receives the event once)."""
        return self._copy(rooms=self._rooms | _as_frozenset(room))

    in_ = to

    def except_(self, room: Rooms) -> "BroadcastOperator":
        """Exclude the members of these rooms (a sid is a room)."""
        return self._copy(except_rooms=self._except | _as_frozenset(room))

    def compress(self, flag: bool) -> "BroadcastOperator":
        return self._copy(compress=bool(flag))

    @property
    def volatile(self) -> "BroadcastOperator":
        """Drop the packet for clients that cannot take it right now."""
        return self._copy(volatile=True)

    @property
    def local(self) -> "BroadcastOperator":
        """Only this node."""
        return self._copy(local=True)

    def timeout(self, seconds: float) -> "BroadcastOperator":
        """Deadline for the acks of the next ``emit(..., callback=)`` or ``call``."""
        if seconds is None or seconds < 0:
            raise ValueError("timeout must be a number >= 0")
        return self._copy(timeout=float(seconds))

    # -- actions -----------------------------------------------------------
    def emit(self, event: str, *args: Any, callback: Optional[Callable[[BroadcastAckResult], Any]] = None) -> None:
        """Emit ``event`` with ``args``; with ``callback``, gather every recipient's ack.

        ``callback(result)`` receives a :class:`BroadcastAckResult` when all
        recipients acknowledged or left, or when the timeout passed.
        """
        self._server._broadcast(self._namespace, event, list(args), self._opts(), callback, self._timeout)

    def send(self, data: Any, callback: Optional[Callable[[BroadcastAckResult], Any]] = None) -> None:
        self.emit("message", data, callback=callback)

    def call(self, event: str, *args: Any) -> BroadcastAckResult:
        """Emit and wait for every recipient's ack (``emitWithAck``); 60 s unless ``timeout()`` was set."""
        timeout = self._timeout if self._timeout is not None else 60.0
        return self._server.call_broadcast(self._namespace, event, list(args), self._opts(), timeout)

    emit_with_ack = call

    def fetch_sockets(self) -> List["RemoteSocket"]:
        details = self._server.manager.fetch_sockets(self._namespace, self._opts())
        return [RemoteSocket(self._server, d) for d in details]

    def sockets_join(self, room: Union[str, List[str]]) -> None:
        rooms = [room] if isinstance(room, str) else list(room)
        self._server.manager.add_sockets(self._namespace, self._opts(), rooms)

    def sockets_leave(self, room: Union[str, List[str]]) -> None:
        rooms = [room] if isinstance(room, str) else list(room)
        self._server.manager.del_sockets(self._namespace, self._opts(), rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._server.manager.disconnect_sockets(self._namespace, self._opts(), close)

    def __repr__(self) -> str:
        return (f"BroadcastOperator(namespace={self._namespace!r}, rooms={sorted(self._rooms)!r}, "
                f"except={sorted(self._except)!r})")


class RemoteSocket:
    """A socket returned by ``fetch_sockets``, possibly on another node.

    Attributes: ``id``, ``namespace``, ``rooms``, ``data`` (its session dict) and
    ``handshake``. Its methods act through the adapter, so they work cluster-wide.
    """

    __slots__ = ("_server", "id", "namespace", "rooms", "data", "handshake")

    def __init__(self, server: "Server", details: SocketDetails) -> None:
        self._server = server
        self.id = details.id
        self.namespace = details.namespace
        self.rooms = set(details.rooms)
        self.data: Dict[str, Any] = details.data
        self.handshake = details.handshake

    @property
    def sid(self) -> str:
        return self.id

    def _op(self) -> BroadcastOperator:
        return BroadcastOperator(self._server, self.namespace, self.id)

    def emit(self, event: str, *args: Any) -> None:
        self._op().emit(event, *args)

    def join(self, room: Union[str, List[str]]) -> None:
        self._op().sockets_join(room)

    def leave(self, room: Union[str, List[str]]) -> None:
        self._op().sockets_leave(room)

    def disconnect(self, close: bool = False) -> None:
        self._op().disconnect_sockets(close)

    def __repr__(self) -> str:
        return f"RemoteSocket(id={self.id!r}, namespace={self.namespace!r})"
