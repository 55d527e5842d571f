"""Bookkeeping every cluster adapter shares: requests waiting for answers, acks crossing nodes.

- :class:`PendingRequests`: requests this node sent (``fetch_sockets``,
  ``server_side_emit`` with acks) and the answers it still expects, either a
  count (``expected``, Node's ``ClusterAdapter``) or a set of node uids
  (``missing``, Node's ``ClusterAdapterWithHeartbeat``, so a node that leaves
  stops being waited for). Looked up by id in a plain dict, capped in number
  (security row A5), each ended by a timer.
- :class:`AckForwarding`: broadcasts with acks this node started, waiting for
  the other nodes' client counts and acks; they are fed to the server's
  :class:`~siothread.adapters.base.AckCollector`. A siothread node says which
  sid acknowledged (per-sid results); a Node node does not, so its acks get
  synthetic keys (``"<node uid>#<n>"``) and count the same way.
- :class:`AckRelay`: the other side, a broadcast with acks another node asked
  this node to deliver; it forwards each local client's ack to the requester.

Reference: ``socketio/socket.io: packages/socket.io-adapter/lib/cluster-adapter.ts``
(``requests``, ``ackRequests``, ``customRequests``, ``removeNode``).
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Set

from . import wire
from .base import AckCollector, AdapterHost

__all__ = ["PendingRequests", "Request", "TooManyRequests", "AckForwarding", "AckRelay", "run_server_side_emit"]


class TooManyRequests(RuntimeError):
    """More cluster requests are waiting for answers than ``max_pending_requests`` allows."""


class Request:
    """One request waiting for answers; ``result`` is set once with the collected responses."""

    __slots__ = ("id", "kind", "expected", "current", "missing", "responses", "result", "timer")

    def __init__(self, rid: str, kind: int, expected: int, missing: Optional[Set[str]],
                 responses: List[Any], result: Any) -> None:
        self.id = rid
        self.kind = kind
        self.expected = expected
        self.current = 0
        self.missing = missing
        self.responses = responses
        self.result = result
        self.timer: Any = None

    @property
    def complete(self) -> bool:
        if self.missing is not None:
            return not self.missing
        return self.current >= self.expected

    def describe_missing(self) -> str:
        if self.missing is not None:
            return f"missing {len(self.missing)} responses"
        return f"only {self.current} responses received out of {self.expected}"


class PendingRequests:
    """Requests by id; at most ``limit`` at a time; each resolved once (complete or timed out)."""

    def __init__(self, runtime: Any, limit: int = 1000) -> None:
        self.runtime = runtime
        self.limit = limit
        self._by_id: Dict[str, Request] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def open(self, rid: str, kind: int, timeout: float, *, expected: int = 0,
             missing: Optional[Iterable[str]] = None, responses: Optional[List[Any]] = None) -> Request:
        """Register a request; its ``result`` gets ``(complete, responses)`` at the latest after ``timeout``."""
        if len(self._by_id) >= self.limit:
            raise TooManyRequests(f"{self.limit} cluster requests are already waiting for answers")
        request = Request(rid, kind, expected, None if missing is None else set(missing),
                          [] if responses is None else responses, self.runtime.AsyncResult())
        self._by_id[rid] = request
        request.timer = self.runtime.call_later(timeout, self._expire, rid)
        return request

    def get(self, rid: Any) -> Optional[Request]:
        if type(rid) is not str:
            return None
        return self._by_id.get(rid)

    def answer(self, rid: Any, items: List[Any], from_uid: Optional[str] = None) -> None:
        """A response arrived: add its items, count it, finish the request when complete."""
        request = self.get(rid)
        if request is None:
            return
        if request.missing is not None:
            if from_uid not in request.missing:
                return  # not a node we wait for, or a duplicate
            request.missing.discard(from_uid)
        request.current += 1
        request.responses.extend(items)
        if request.complete:
            self._finish(request, True)

    def node_left(self, uid: str) -> None:
        """Stop waiting for ``uid`` in every request (Node's ``removeNode``)."""
        for request in list(self._by_id.values()):
            if request.missing is not None and uid in request.missing:
                request.missing.discard(uid)
                if request.complete:
                    self._finish(request, True)

    def _expire(self, rid: str) -> None:
        request = self._by_id.get(rid)
        if request is not None:
            request.timer = None
            self._finish(request, False)

    def _finish(self, request: Request, complete: bool) -> None:
        self._by_id.pop(request.id, None)
        if request.timer is not None:
            request.timer.cancel()
            request.timer = None
        request.result.set((complete, request.responses))

    def cancel_all(self) -> None:
        for request in list(self._by_id.values()):
            self._finish(request, False)


class AckForwarding:
    """Broadcasts with acks this node started: remote counts and acks go to the server's collector."""

    def __init__(self, runtime: Any, limit: int = 1000) -> None:
        self.runtime = runtime
        self.limit = limit
        self._by_id: Dict[str, AckCollector] = {}
        self._anonymous = itertools.count(1)

    def add(self, rid: str, collector: AckCollector, keep: float) -> bool:
        """Track ``rid`` for ``keep`` seconds (Node cleans up after the broadcast's timeout)."""
        if len(self._by_id) >= self.limit:
            return False
        self._by_id[rid] = collector
        self.runtime.call_later(keep, self._by_id.pop, rid, None)
        return True

    def __contains__(self, rid: Any) -> bool:
        return type(rid) is str and rid in self._by_id

    def client_count(self, rid: Any, count: int, sids: Optional[List[str]] = None) -> None:
        collector = self._by_id.get(rid) if type(rid) is str else None
        if collector is None:
            return
        for sid in sids or ():
            collector.expect_remote(sid)
        collector.server_reached(count)

    def ack(self, rid: Any, uid: str, sid: Optional[str], args: List[Any]) -> None:
        collector = self._by_id.get(rid) if type(rid) is str else None
        if collector is None:
            return
        if sid is None:
            sid = f"{uid}#{next(self._anonymous)}"
        collector.expect_remote(sid)  # no-op when the count already named it
        collector.ack(sid, args)

    def clear(self) -> None:
        self._by_id.clear()


class _RelayEntry:
    """The relay's entry in a local socket's ack table (duck-types the server's AckEntry)."""

    __slots__ = ("relay", "sid")

    def __init__(self, relay: "AckRelay", sid: str) -> None:
        self.relay = relay
        self.sid = sid

    def resolve(self, args: List[Any]) -> None:
        self.relay.ack(self.sid, args)

    def fail(self, error: Exception) -> None:
        self.relay.left(self.sid)


class AckRelay:
    """A broadcast with acks another node asked for: an :class:`AckCollector` that forwards.

    ``on_count(count, sids)`` once local delivery is done; ``on_ack(sid, args)``
    per local ack. After ``timeout`` the remaining ack table entries are
    removed, so a client that never answers leaves nothing behind.
    """

    timeout: Optional[float] = None

    def __init__(self, ack_id: int, runtime: Any, timeout: float,
                 on_count: Callable[[int, List[str]], None], on_ack: Callable[[str, List[Any]], None]) -> None:
        self.ack_id = ack_id
        self.on_count = on_count
        self.on_ack = on_ack
        self.tables: Dict[str, Dict[int, Any]] = {}
        self.timer = runtime.call_later(timeout, self.expire)

    def register(self, sid: str, table: Dict[int, Any]) -> None:
        self.tables[sid] = table
        table[self.ack_id] = _RelayEntry(self, sid)

    def expect_remote(self, sid: str) -> None:  # only local recipients here
        pass

    def server_reached(self, count: int) -> None:
        self.on_count(count, list(self.tables))
        if not self.tables:
            self.expire()

    def ack(self, sid: str, args: List[Any]) -> None:
        if self.tables.pop(sid, None) is not None:
            self.on_ack(sid, args)
        if not self.tables and self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def left(self, sid: str) -> None:
        self.tables.pop(sid, None)

    def expire(self) -> None:
        self.timer = None
        for table in self.tables.values():
            table.pop(self.ack_id, None)
        self.tables.clear()


def run_server_side_emit(host: AdapterHost, logger: logging.Logger, namespace: str, packet: Any,
                         reply: Optional[Callable[[Any], None]]) -> None:
    """Run this server's handler for another node's ``server_side_emit`` in its own greenlet
    (never in the listener); ``reply(result)`` sends the answer when the sender wants one."""
    if type(packet) is not list or not packet or type(packet[0]) is not str:
        raise wire.WireError("a server-side emit needs an event name")

    def run() -> None:
        try:
            result = host.handle_server_side_emit(namespace, packet[0], packet[1:])
        except Exception as exc:  # noqa: BLE001 - a handler error must not reach the listener
            logger.error("error in the server-side handler for %r", packet[0], exc_info=exc)
            result = None
        if reply is not None:
            reply(result)

    host.runtime.spawn(run)
