"""Per-connection and per-namespace state of the Socket.IO server.

A :class:`Client` is one Engine.IO session: the incremental decoder that owns
binary reassembly, the sockets it has in each namespace, and two timers
(``connect_timeout``: a session that joins no namespace in time is closed;
``attachment_timeout``: a binary packet whose attachments stop arriving).

A :class:`Socket` is one namespace connection (Node's ``Socket``): its own
sid, session dict, ack table and ordered inbox. Its life is an explicit state
machine::

    CONNECTING --accepted--> CONNECTED --leave--> DISCONNECTING --handler done--> CLOSED
        \\--refused / client gone before acceptance-----------------------------> CLOSED

While CONNECTING, packets addressed to the socket are held back and sent right
after the CONNECT acknowledgement (Node's order: the client sees CONNECT first
even for emits made inside the connect handler). While DISCONNECTING nothing is
sent and rooms can no longer be entered, but the disconnect handler can still
read the socket's rooms and session.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Set, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    from ._registry import Route
    from .acks import AckEntry

__all__ = ["SocketState", "Socket", "Client"]

Message = Union[str, bytes]


class SocketState(enum.IntEnum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTING = 2
    CLOSED = 3


# inbox items: an EVENT packet itself, or one of these control items as (kind, payload)
CONNECT = 1
DISCONNECT = 2
#: an inbox item ``(BIG_EVENT, packet, size)``: an event whose bytes are counted against
#: ``max_queued_bytes`` (smaller events are queued as the bare packet and only counted)
BIG_EVENT = 3


class Socket:
    """One client's connection to one namespace."""

    __slots__ = (
        "sid", "eio_sid", "namespace", "client", "state", "session", "acks", "inbox", "worker",
        "route", "auth", "held", "connected_at", "close_reason", "handler_accepted", "parked",
        "pid", "recovered", "queued_bytes", "reader_parked",
    )

    def __init__(self, sid: str, client: "Client", namespace: str, route: "Route", auth: Dict[str, Any]) -> None:
        self.sid = sid
        self.eio_sid = client.eio_sid
        self.namespace = namespace
        self.client = client
        self.state = SocketState.CONNECTING
        self.session: Dict[str, Any] = {}
        self.acks: Dict[int, "AckEntry"] = {}
        # made on the first item (an empty deque costs 600 bytes; most sockets sit idle)
        self.inbox: Union[Tuple[()], Deque[Any]] = ()
        self.worker: Any = None
        self.route = route
        self.auth = auth
        # packets emitted while CONNECTING, sent after the CONNECT ack
        self.held: List[Tuple[List[Message], bool, Optional[bool]]] = []
        self.connected_at = 0.0
        self.close_reason: Optional[str] = None
        self.handler_accepted = False
        #: the Parking of the worker while it lingers for the next inbox item
        self.parked: Any = None
        #: connection-state recovery: the private session id (None while recovery is off)
        self.pid: Optional[str] = None
        #: whether this socket took over a previous session (same sid, rooms, data, missed packets)
        self.recovered = False
        #: bytes of the BIG_EVENT items in the inbox
        self.queued_bytes = 0
        #: the Parking of the transport's reader while it waits for the inbox to drain
        self.reader_parked: Any = None

    def __repr__(self) -> str:
        return f"<Socket {self.sid} {self.namespace} {self.state.name}>"


class Client:
    """One Engine.IO session as seen by the Socket.IO layer."""

    __slots__ = (
        "eio_sid", "environ", "decoder", "sockets", "seen_namespaces", "connect_timer",
        "attachment_timer", "closing", "connected_at", "partial_bytes",
    )

    def __init__(self, eio_sid: str, environ: Dict[str, Any], decoder: Any, connected_at: float) -> None:
        self.eio_sid = eio_sid
        self.environ = environ
        self.decoder = decoder
        self.sockets: Dict[str, Socket] = {}
        # distinct namespaces this connection asked for: bounded (security row S2)
        self.seen_namespaces: Set[str] = set()
        self.connect_timer: Any = None
        self.attachment_timer: Any = None
        self.closing = False
        self.connected_at = connected_at
        #: bytes of the binary packet being assembled (its attachments so far)
        self.partial_bytes = 0

    def cancel_timers(self) -> None:
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if self.attachment_timer is not None:
            self.attachment_timer.cancel()
            self.attachment_timer = None
