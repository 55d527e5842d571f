"""Disconnect reasons passed to ``disconnect(sid, reason)`` handlers.

The values are Node's ``DisconnectReason`` strings
(``socketio/socket.io: packages/socket.io/lib/socket.ts``), exposed under
python-socketio's names (``sio.reason.CLIENT_DISCONNECT`` ...). Compare with the
constants, not with literals: python-socketio's ``'client disconnect'`` and
``'server disconnect'`` are Node's ``'client namespace disconnect'`` and
``'server namespace disconnect'`` here (listed in ``docs/migration.md``).
"""
from __future__ import annotations

from typing import Dict

__all__ = ["reason", "engine_reason_to_socketio"]


class reason:  # noqa: N801 - python-socketio spells it ``sio.reason``
    """Why a socket left its namespace."""

    #: the client sent a Socket.IO DISCONNECT for this namespace (``socket.disconnect()``)
    CLIENT_DISCONNECT = "client namespace disconnect"
    #: the server called ``disconnect(sid)`` (or refused after ``always_connect``)
    SERVER_DISCONNECT = "server namespace disconnect"
    #: the client stopped answering pings
    PING_TIMEOUT = "ping timeout"
    #: the connection was closed (client closed it, or the Engine.IO session was closed)
    TRANSPORT_CLOSE = "transport close"
    #: the connection failed (network error, overlapping polls, upgrade failure)
    TRANSPORT_ERROR = "transport error"
    #: the client sent something the protocol forbids; the connection was closed
    PARSE_ERROR = "parse error"
    #: ``Server.shutdown()`` closed every connection
    SERVER_SHUTTING_DOWN = "server shutting down"
    #: the server closed the whole Engine.IO connection (``disconnect_sockets(close=True)``)
    FORCED_CLOSE = "forced close"
    #: the client did not read fast enough and its bounded outbound queue overflowed
    SLOW_CONSUMER = "slow consumer"


_ENGINE_TO_SOCKETIO: Dict[str, str] = {
    # Node: a client-side close of the Engine.IO connection is "transport close"
    "client disconnect": reason.TRANSPORT_CLOSE,
    "server disconnect": reason.FORCED_CLOSE,
    "ping timeout": reason.PING_TIMEOUT,
    "transport close": reason.TRANSPORT_CLOSE,
    "transport error": reason.TRANSPORT_ERROR,
    "parse error": reason.PARSE_ERROR,
    "server shutting down": reason.SERVER_SHUTTING_DOWN,
    "slow consumer": reason.SLOW_CONSUMER,
}


def engine_reason_to_socketio(engine_reason: str) -> str:
    """The Socket.IO reason for an Engine.IO close reason (unknown ones pass through)."""
    return _ENGINE_TO_SOCKETIO.get(engine_reason, engine_reason)
