"""Acknowledgements the server waits for, and the result of a broadcast with acks.

Every socket owns an ack table ``{ack_id: entry}``. Ack ids come from one
server-wide counter, so a broadcast can give all recipients the same id and
encode the packet once (Node does the same with ``nsp._ids``). An entry is
resolved by the client's ACK packet (in the connection's reader greenlet:
resolving only sets a result or schedules a callback, it never runs application
code there), failed with :class:`~siothread.errors.DisconnectedError` when the
socket goes away, or expired by its timer. The table is emptied on disconnect,
so no callback outlives its socket (security row S10).
"""
from __future__ import annotations

import abc
from time import monotonic
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Set, Tuple

from ..errors import DisconnectedError, TimeoutError

if TYPE_CHECKING:  # pragma: no cover
    from ..engine._runtime import Runtime

__all__ = ["BroadcastAckResult", "BroadcastAckCollector", "ack_value"]


def ack_value(args: List[Any]) -> Any:
    """python-socketio's ``call()`` return convention: None, the single value, or a tuple."""
    n = len(args)
    if n == 0:
        return None
    if n == 1:
        return args[0]
    return tuple(args)


class AckEntry(abc.ABC):
    """One pending acknowledgement in a socket's ack table.

    ``sent`` is the ``time.monotonic()`` of the emit (what the ack round-trip
    time of :mod:`siothread.metrics` is measured from).
    """

    __slots__ = ()
    sent: float

    @abc.abstractmethod
    def resolve(self, args: List[Any]) -> None:
        """The client acknowledged with ``args``."""

    @abc.abstractmethod
    def fail(self, error: Exception) -> None:
        """The socket went away (or the server shut down) first."""


class CallWaiter(AckEntry):
    """A greenlet blocked in ``call()`` waits on this."""

    __slots__ = ("result", "sent")

    def __init__(self, runtime: "Runtime") -> None:
        self.result = runtime.AsyncResult()
        self.sent = monotonic()

    def resolve(self, args: List[Any]) -> None:
        if not self.result.ready():
            self.result.set(args)

    def fail(self, error: Exception) -> None:
        if not self.result.ready():
            self.result.set_exception(error)


class CallbackEntry(AckEntry):
    """``emit(callback=...)`` to one socket.

    Without a timeout the callback receives the ack arguments (python-socketio);
    it is not called if the socket leaves first. With a timeout it receives
    ``(error, *args)`` like Node's ``socket.timeout(ms).emit(ev, (err, ...) => ...)``,
    error being None, a :class:`TimeoutError` or a :class:`DisconnectedError`.
    The callback runs in a new greenlet, never in the connection's reader.
    """

    __slots__ = ("callback", "with_error", "timer", "done", "spawn", "on_error", "table", "ack_id", "sent")

    def __init__(
        self,
        callback: Callable[..., Any],
        with_error: bool,
        spawn: Callable[..., Any],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.callback = callback
        self.with_error = with_error
        self.timer: Any = None
        self.done = False
        self.spawn = spawn
        self.on_error = on_error
        self.table: Optional[Dict[int, AckEntry]] = None
        self.ack_id = 0
        self.sent = monotonic()

    def _run(self, *args: Any) -> None:
        try:
            self.callback(*args)
        except Exception as exc:  # an ack callback must not kill anything
            self.on_error(exc)

    def resolve(self, args: List[Any]) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        if self.with_error:
            self.spawn(self._run, None, *args)
        else:
            self.spawn(self._run, *args)

    def fail(self, error: Exception) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        if self.with_error:
            self.spawn(self._run, error)

    def expire(self) -> None:
        """Timer callback: drop the table entry and report a timeout."""
        if self.table is not None:
            self.table.pop(self.ack_id, None)
        self.timer = None
        self.fail(TimeoutError("operation has timed out"))


class BroadcastAckResult:
    """What a broadcast with acks got back, per recipient.

    Attributes:
        responses: ``{sid: value}`` for every client that acknowledged, in
            arrival order; ``value`` follows ``call()``'s convention (None, the
            single argument, or a tuple of arguments).
        timed_out: sids that did not acknowledge before the timeout.
        disconnected: sids that left before acknowledging.
    """

    __slots__ = ("responses", "timed_out", "disconnected")

    def __init__(
        self, responses: Dict[str, Any], timed_out: FrozenSet[str], disconnected: FrozenSet[str]
    ) -> None:
        self.responses = responses
        self.timed_out = timed_out
        self.disconnected = disconnected

    @property
    def ok(self) -> bool:
        """True when every recipient acknowledged."""
        return not self.timed_out and not self.disconnected

    @property
    def sids(self) -> FrozenSet[str]:
        """Every recipient, whatever happened to it."""
        return frozenset(self.responses) | self.timed_out | self.disconnected

    def values(self) -> List[Any]:
        """The ack values in arrival order (Node's ``responses`` array)."""
        return list(self.responses.values())

    def __len__(self) -> int:
        return len(self.responses) + len(self.timed_out) + len(self.disconnected)

    def __iter__(self) -> Iterator[Tuple[str, Any]]:
        return iter(self.responses.items())

    def __repr__(self) -> str:
        return (
            f"BroadcastAckResult(acked={len(self.responses)}, timed_out={len(self.timed_out)}, "
            f"disconnected={len(self.disconnected)})"
        )


class _Member(AckEntry):
    """A broadcast collector's entry in one recipient's ack table."""

    __slots__ = ("collector", "sid", "sent")

    def __init__(self, collector: "BroadcastAckCollector", sid: str) -> None:
        self.collector = collector
        self.sid = sid
        self.sent = collector.sent

    def resolve(self, args: List[Any]) -> None:
        self.collector.ack(self.sid, args)

    def fail(self, error: Exception) -> None:
        self.collector.left(self.sid)


class BroadcastAckCollector:
    """Gathers the acks of one broadcast (Node's ``broadcastWithAck`` bookkeeping).

    Complete when every server of the cluster reported how many clients it
    reached and each of those clients acked or left; or when the timeout fires,
    which marks the remaining recipients as timed out and removes their ack
    table entries (Node's ``removeAcks``). ``on_done(result)`` runs exactly once.
    """

    __slots__ = (
        "ack_id", "expected_servers", "servers", "expected_clients", "responses",
        "pending", "gone", "timed_out", "done", "on_done", "timer", "tables", "timeout", "sent",
    )

    def __init__(self, ack_id: int, expected_servers: int, on_done: Callable[[BroadcastAckResult], None]) -> None:
        self.ack_id = ack_id
        self.expected_servers = expected_servers
        self.servers = 0
        self.expected_clients = 0
        self.responses: Dict[str, Any] = {}
        self.pending: Set[str] = set()
        self.gone: Set[str] = set()
        self.timed_out: Set[str] = set()
        self.done = False
        self.on_done = on_done
        self.timer: Any = None
        self.tables: Dict[str, Dict[int, AckEntry]] = {}
        #: the broadcaster's timeout, read by cluster adapters (None: no limit)
        self.timeout: Optional[float] = None
        self.sent = monotonic()

    def register(self, sid: str, table: Dict[int, AckEntry]) -> None:
        """A local recipient: put an entry in its ack table."""
        self.pending.add(sid)
        self.tables[sid] = table
        table[self.ack_id] = _Member(self, sid)

    def expect_remote(self, sid: str) -> None:
        """A recipient on another node whose ack will be forwarded by the adapter."""
        self.pending.add(sid)

    def server_reached(self, count: int) -> None:
        """A server reports how many clients it sent the packet to."""
        self.servers += 1
        self.expected_clients += count
        self._check()

    def ack(self, sid: str, args: List[Any]) -> None:
        if self.done or sid not in self.pending:
            return
        self.pending.discard(sid)
        self.tables.pop(sid, None)
        self.responses[sid] = ack_value(args)
        self._check()

    def left(self, sid: str) -> None:
        if self.done or sid not in self.pending:
            return
        self.pending.discard(sid)
        self.tables.pop(sid, None)
        self.gone.add(sid)
        self._check()

    def expire(self) -> None:
        """Timer callback: whoever has not answered timed out."""
        if self.done:
            return
        self.timer = None
        for sid in self.pending:
            table = self.tables.get(sid)
            if table is not None:
                table.pop(self.ack_id, None)
            self.timed_out.add(sid)
        self.pending.clear()
        self.tables.clear()
        self._finish()

    def _check(self) -> None:
        if (
            not self.done
            and self.servers >= self.expected_servers
            and len(self.responses) + len(self.gone) >= self.expected_clients
            and not self.pending
        ):
            self._finish()

    def _finish(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        result = BroadcastAckResult(self.responses, frozenset(self.timed_out), frozenset(self.gone))
        self.on_done(result)

    def cancel(self, error: Exception) -> None:
        """Shutdown: everyone still pending counts as disconnected."""
        if self.done:
            return
        for sid in list(self.pending):
            table = self.tables.get(sid)
            if table is not None:
                table.pop(self.ack_id, None)
            self.gone.add(sid)
        self.pending.clear()
        self.tables.clear()
        self._finish()


def disconnected_error() -> DisconnectedError:
    return DisconnectedError("the client disconnected before acknowledging")
