"""One Engine.IO session: its state machine, outbound queue and heartbeat.

Theory of operation
-------------------
A session starts OPEN on the transport of its handshake. A polling session may
move to UPGRADING when a WebSocket probe arrives for its sid, then back to OPEN
on the WebSocket transport once the client sends UPGRADE (``5``), or stay on
polling if the probe fails. CLOSING means the session is flushing what it owes
the peer before CLOSED; CLOSED is final. Every change goes through
:meth:`Session._set_state`, which rejects illegal transitions (the
``ReadyState`` machine of engine.io's ``socket.ts``).

Outbound packets never block the sender. On WebSocket they go to the
connection's write path (a non-blocking send, with only the remainder
buffered); on polling (and while an upgrade is in flight) they are kept as
payload segments until a GET collects them. Both are bounded by
``max_queue`` packets and ``max_queue_bytes``; past that the overflow policy
applies: ``disconnect`` closes the session with reason ``"slow consumer"``,
``drop`` discards the packet. Either way the application hears about it
through the ``overflow`` event.

The heartbeat is one libev timer at a time per session: PING every
``ping_interval``; if neither a PONG nor anything else arrives within
``ping_timeout`` (+ grace) the session closes with reason ``"ping timeout"``
(data keeps the wait going, as in Node: a PONG can sit behind a burst).
Sending a PING never blocks, so the timer callback runs in the event loop
without a greenlet of its own. A v3 session (``protocol == 3``) runs it the
other way round: the client PINGs, the session answers PONG and waits
``ping_interval + ping_timeout`` for the next PING.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, List, Optional

from ..errors import LocalProtocolError
from .prepared import Prepared

if TYPE_CHECKING:  # pragma: no cover
    from .owner import SessionOwner
    from .websocket import WebSocketConnection

__all__ = ["State", "Session", "Reason"]


class State(enum.Enum):
    OPEN = "open"
    UPGRADING = "upgrading"
    CLOSING = "closing"
    CLOSED = "closed"


_ALLOWED = {
    State.OPEN: {State.UPGRADING, State.CLOSING, State.CLOSED},
    State.UPGRADING: {State.OPEN, State.CLOSING, State.CLOSED},
    State.CLOSING: {State.CLOSED},
    State.CLOSED: set(),
}


class Reason:
    """Disconnect reasons passed to the ``disconnect`` handler."""

    CLIENT = "client disconnect"
    SERVER = "server disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PARSE_ERROR = "parse error"
    SHUTDOWN = "server shutting down"
    SLOW_CONSUMER = "slow consumer"


#: Reasons after which nobody will poll again: the last payload is not kept for them.
_PEER_GONE = frozenset({Reason.PING_TIMEOUT, Reason.TRANSPORT_ERROR, Reason.PARSE_ERROR, Reason.SLOW_CONSUMER})

_PING_SEGMENT = "2"
_NOOP_SEGMENT = "6"


class Session:
    """Server side of one Engine.IO connection."""

    __slots__ = (
        "sid", "owner", "environ", "transport", "state", "ws", "reason",
        "_pending", "_pending_bytes", "_poll_parking", "poll_active", "post_active",
        "_ping_timer", "_pong_timer", "_pong_deadline", "_closed_event", "upgrade_ws", "overflowed", "heard",
        "protocol",
        "__weakref__",
    )

    def __init__(self, owner: "SessionOwner", sid: str, environ: dict, transport: str) -> None:
        self.sid = sid
        #: the engine server this session reports to (through :class:`~.owner.SessionOwner` only)
        self.owner = owner
        self.environ = environ
        self.transport = transport
        self.state = State.OPEN
        self.ws: Optional["WebSocketConnection"] = None
        #: the WebSocket being probed during an upgrade
        self.upgrade_ws: Optional["WebSocketConnection"] = None
        self.reason: Optional[str] = None
        self._pending: List[str] = []
        self._pending_bytes = 0
        rt = owner.runtime
        #: where a GET with nothing to deliver waits (one at a time: a second GET is refused)
        self._poll_parking = rt.Parking()
        self.poll_active = False
        self.post_active = False
        self._ping_timer: Any = None
        self._pong_timer: Any = None
        #: when the next PONG is due (monotonic); checked by requests while ``_pong_timer`` is armed
        self._pong_deadline = 0.0
        self._closed_event = rt.Event()
        #: an overflow was reported and the backlog has not drained since (one report per episode)
        self.overflowed = False
        #: the client sent something since the last PING (set by the transports)
        self.heard = False
        #: the Engine.IO revision the client speaks: 4, or 3 (socket.io-client 2.x, ``allow_eio3``)
        self.protocol = 4

    # -- state --------------------------------------------------------------------
    def _set_state(self, new: State) -> None:
        if new not in _ALLOWED[self.state]:
            raise LocalProtocolError(f"illegal session transition {self.state.value} -> {new.value}")
        if self.owner.debug:
            self.owner.logger.debug("%s: %s -> %s", self.sid, self.state.value, new.value)
        self.state = new

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED or self.state is State.CLOSING

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return bool(self._closed_event.wait(timeout))

    # -- outbound -----------------------------------------------------------------
    def send_prepared(self, prepared: Prepared, volatile: bool = False) -> bool:
        """Queue or write ``prepared``; False when it was dropped."""
        if self.state is State.OPEN and self.ws is not None:
            return self.ws.write_prepared(prepared, volatile)
        if self.state is State.CLOSED or self.state is State.CLOSING:
            return False
        if volatile and not self.poll_active:
            # Volatile (Node): dropped, not queued, when the client cannot take it now.
            return False
        return self._queue_segments(prepared.segments(), prepared.nbytes)

    def send_text_packet(self, segment: str) -> bool:
        """Send one control or message packet given as its encoded text (``"2"``, ``"4hello"``)."""
        if self.state is State.OPEN and self.ws is not None:
            return self.ws.write_text(segment)
        if self.state is State.CLOSED:
            return False
        return self._queue_segments([segment], len(segment))

    def _queue_segments(self, segments: List[str], nbytes: int) -> bool:
        cfg = self.owner.config
        if (len(self._pending) + len(segments) > cfg.max_queue
                or self._pending_bytes + nbytes > cfg.max_queue_bytes):
            return self.owner.session_overflow(self)
        self._pending.extend(segments)
        self._pending_bytes += nbytes
        self._poll_parking.wake()
        return True

    def take_pending(self) -> List[str]:
        """Everything queued for polling, in order; the queue is emptied."""
        pending = self._pending
        self._pending = []
        self._pending_bytes = 0
        self.overflowed = False
        return pending

    def has_pending(self) -> bool:
        return bool(self._pending)

    def wait_for_pending(self, timeout: float) -> None:
        """Park the GET until a packet is queued, :meth:`wake_poll` or ``timeout``. The caller
        checks first that nothing is pending and the session is open: a wake-up with nobody
        parked is not remembered."""
        self._poll_parking.wait(timeout)

    def wake_poll(self) -> None:
        self._poll_parking.wake()

    @property
    def queued(self) -> int:
        """Packets (polling) or bytes (WebSocket) not yet taken by the peer: the backlog."""
        if self.ws is not None and self.state is State.OPEN:
            return self.ws.buffered_bytes
        return len(self._pending)

    # -- heartbeat ----------------------------------------------------------------
    def start_heartbeat(self) -> None:
        if self.protocol == 3:
            self._await_client_ping()
        else:
            self._schedule_ping()

    def _schedule_ping(self) -> None:
        if self.state is State.CLOSED:
            return
        cfg = self.owner.config
        # The PONG is due ping_timeout after the PING is due, however late a busy loop sends it
        # (the client counts from the handshake or its last PONG, as the suite does).
        due = cfg.ping_interval + cfg.ping_timeout + cfg.ping_grace
        self._pong_deadline = self.owner.runtime.monotonic() + due
        self._ping_timer = self.owner.runtime.call_later_in_loop(cfg.ping_interval, self._send_ping)

    def _send_ping(self) -> None:
        # Runs in the event loop: must not block, must not raise.
        self._ping_timer = None
        if self.state is State.CLOSED or self.state is State.CLOSING:
            return
        try:
            self.send_text_packet(_PING_SEGMENT)
        except Exception:  # pragma: no cover - the write path reports its own errors
            self.owner.logger.exception("%s: sending PING failed", self.sid)
        self._await_pong()

    def _await_pong(self) -> None:
        self.heard = False
        cfg = self.owner.config
        self._pong_timer = self.owner.runtime.call_later_in_loop(
            cfg.ping_timeout + cfg.ping_grace, self._pong_missing
        )

    def pong_overdue(self) -> bool:
        """The PONG deadline has passed with nothing heard, though its timer has not run yet.

        A request that arrives in that window (a busy event loop runs timers late) is
        answered as if the timer had run: the session timed out (conformance "closes the
        session upon ping timeout" polls right at the deadline).
        """
        return (self._pong_timer is not None and not self.heard
                and self.owner.runtime.monotonic() >= self._pong_deadline)

    def _pong_missing(self) -> None:
        self._pong_timer = None
        if self.heard and not self.closed:
            # Anything received since the PING shows the client is alive; its PONG may be
            # queued behind what it sent (a burst of events we are still working through).
            # Node's engine.io does the same (socket.ts checkPingTimeout).
            self._await_pong()
            cfg = self.owner.config
            self._pong_deadline = self.owner.runtime.monotonic() + cfg.ping_timeout + cfg.ping_grace
            return
        if not self.closed:
            # Closing runs the application's disconnect handler: give it a greenlet.
            self.owner.runtime.spawn(self.close, Reason.PING_TIMEOUT)

    def on_pong(self) -> None:
        if self.protocol == 3:
            return  # wrong heartbeat direction for v3: its timer waits for PINGs
        timer = self._pong_timer
        if timer is not None:
            timer.cancel()
            self._pong_timer = None
            self._schedule_ping()

    # Engine.IO v3 turns the heartbeat around: the client sends PING every ping_interval and
    # the server answers PONG; no PING within ping_interval + ping_timeout closes the session
    # (Node's socket.ts resetPingTimeout for protocol 3).
    def _await_client_ping(self) -> None:
        self.heard = False
        cfg = self.owner.config
        wait = cfg.ping_interval + cfg.ping_timeout + cfg.ping_grace
        self._pong_deadline = self.owner.runtime.monotonic() + wait  # what pong_overdue() checks
        self._pong_timer = self.owner.runtime.call_later_in_loop(wait, self._ping_missing)

    def _ping_missing(self) -> None:
        self._pong_timer = None
        if self.heard and not self.closed:
            self._await_client_ping()  # the PING may be queued behind data, as for a v4 PONG
        elif not self.closed:
            self.owner.runtime.spawn(self.close, Reason.PING_TIMEOUT)

    def on_ping(self, data: Optional[str]) -> None:
        """A PING from a v3 client: answer PONG (a v4 client never sends one; it is ignored)."""
        if self.protocol != 3 or self.closed:
            return
        timer = self._pong_timer
        if timer is not None:
            timer.cancel()
        self.send_text_packet("3" if data is None else "3" + data)
        self._await_client_ping()

    def _stop_heartbeat(self) -> None:
        for timer in (self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = None

    # -- upgrade ------------------------------------------------------------------
    def begin_upgrade(self, ws: "WebSocketConnection") -> None:
        self._set_state(State.UPGRADING)
        self.upgrade_ws = ws

    def abort_upgrade(self) -> None:
        if self.state is State.UPGRADING:
            self._set_state(State.OPEN)
        self.upgrade_ws = None

    def complete_upgrade(self, ws: "WebSocketConnection") -> None:
        """Switch to ``ws``: what polling still owed goes out first, in order (no loss, no reordering)."""
        pending = self.take_pending()
        for segment in pending:
            ws.write_segment(segment)
        self.ws = ws
        self.upgrade_ws = None
        self.transport = "websocket"
        self._set_state(State.OPEN)
        # A GET that is still parked (it should not be) is released with a NOOP.
        self._poll_parking.wake()

    # -- closing ------------------------------------------------------------------
    def close(self, reason: str = Reason.SERVER, *, notify_peer: bool = True) -> None:
        """End the session once: flush, tell the peer, run the disconnect handler."""
        if self.state is State.CLOSED or self.state is State.CLOSING:
            return
        self.reason = reason
        self._set_state(State.CLOSING)
        self._stop_heartbeat()
        self.owner.session_closing(self)
        ws, upgrade_ws = self.ws, self.upgrade_ws
        if ws is not None:
            ws.close_session_transport(send_close_packet=notify_peer)
        else:
            if notify_peer:
                # A pending (or the next) GET receives what was queued plus CLOSE.
                self._pending.append("1")
            if not self.poll_active and reason not in _PEER_GONE:
                # No GET parked: the client's next GET still gets its answer (what was queued
                # plus CLOSE, or a NOOP when the client sent the CLOSE: its GET and its POST
                # "1" race, and the GET may arrive second; conformance "forcefully closes").
                self.owner.keep_last_poll(self)
            self._poll_parking.wake()
        if upgrade_ws is not None:
            upgrade_ws.abort()
        self._set_state(State.CLOSED)
        self._closed_event.set()
        self.owner.session_closed(self, reason)
