"""What the engine and the Socket.IO server report to the objects that watch them.

An observer (the Admin UI instrumentation, :mod:`siothread.metrics`, an
application's own) subclasses :class:`Observer` and overrides the calls it
wants; the others stay no-ops. It is attached with :func:`attach`, which adds it
to ``sio._observers`` (Socket.IO calls) and ``sio.eio.observers`` (Engine.IO
calls).

The server checks ``if self._observers:`` before each report, so a server that
nobody watches pays one attribute test per report site and builds no
arguments. Reports are synchronous, in the greenlet where the thing happened
(often a connection's reader): an observer must be quick and must not block.
An observer that raises is logged; the server carries on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List

if TYPE_CHECKING:  # pragma: no cover
    from .server.socket import Socket
    from .server.server import Server

__all__ = ["Observer", "attach", "detach", "EventLabels", "OTHER"]

#: what an event name with no handler of its own is reported as (label values stay bounded)
OTHER = "_other"


class Observer:
    """No-op base: override what you need (every method may be called from any greenlet)."""

    # -- Engine.IO (``sio.eio.observers``) ------------------------------------
    def handshake_refused(self, reason: str, environ: Dict[str, Any]) -> None:
        """A new Engine.IO session was refused before it existed.

        ``reason``: ``"origin"`` (CORS / cross-site WebSocket), ``"shutting_down"``,
        ``"too_many_sessions"``, ``"allow_request"`` (the ``allow_request`` hook
        said no) or ``"connect_handler"`` (the Socket.IO layer refused the session).
        """

    def upgrade(self, eio_sid: str, outcome: str) -> None:
        """A transport upgrade ended: ``"websocket"`` (done), ``"timeout"``, ``"failed"`` or ``"refused"``."""

    def overflow(self, eio_sid: str, policy: str) -> None:
        """A session's bounded outbound queue overflowed (once per episode); ``policy`` is the engine's."""

    # -- Socket.IO (``sio._observers``) ---------------------------------------
    def raw_connection(self, eio_sid: str) -> None:
        """A new Engine.IO session was accepted."""

    def raw_disconnection(self, eio_sid: str, reason: str) -> None:
        """An Engine.IO session ended; ``reason`` is a :class:`siothread.reason` value."""

    def packet_in(self, nbytes: int, namespace: str) -> None:
        """A whole Socket.IO packet (attachments included) arrived for ``namespace``.

        ``namespace`` is the client's text: the socket may not exist.
        """

    def packet_out(self, nbytes: int, namespace: str) -> None:
        """Socket.IO packets of ``nbytes`` in total were handed to the engine for ``namespace``."""

    def socket_connected(self, sock: "Socket") -> None:
        """A socket's connection to its namespace was accepted."""

    def socket_disconnected(self, sock: "Socket", reason: str) -> None:
        """An accepted socket left its namespace."""

    def connect_refused(self, namespace: str, payload: Dict[str, Any]) -> None:
        """A namespace CONNECT was answered with CONNECT_ERROR ``payload``."""

    def event_received(self, sock: "Socket", event: str, args: List[Any]) -> None:
        """An event reached a connected socket (before middleware and handler)."""

    def ack_received(self, sock: "Socket", sent: float) -> None:
        """A client acknowledged an event the server sent at ``time.monotonic()`` ``sent``."""


def attach(sio: "Server", observer: Observer) -> None:
    """Let ``observer`` watch ``sio`` and its engine."""
    sio._observers.append(observer)
    engine_observers = getattr(sio.eio, "observers", None)
    if engine_observers is not None:
        engine_observers.append(observer)


def detach(sio: "Server", observer: Observer) -> None:
    """Stop reporting to ``observer`` (a no-op when it is not attached)."""
    for observers in (sio._observers, getattr(sio.eio, "observers", None) or []):
        if observer in observers:
            observers.remove(observer)


class EventLabels:
    """``labels(event)``: the event name if some handler is registered for it, else :data:`OTHER`.

    Clients choose event names; metrics labels and span names must not grow with them.
    ``connect`` and ``disconnect`` always count as registered. The set is rebuilt when
    registrations change (the registry's generation number).
    """

    def __init__(self, sio: "Server") -> None:
        self.registry = sio._registry
        self.gen = -1
        self.names: FrozenSet[str] = frozenset()

    def __call__(self, event: str) -> str:
        registry = self.registry
        if registry.gen != self.gen:
            names = {"connect", "disconnect"}
            for hs in (*registry.static.values(), *registry.dynamic, registry.catchall):
                if hs is not None:
                    names.update(hs.events)
                    names.update(hs.ns_events)
            names.discard("*")
            self.names = frozenset(names)
            self.gen = registry.gen
        return event if event in self.names else OTHER
