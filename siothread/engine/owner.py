"""What a session and its transports may use of the engine that owns them.

A :class:`~siothread.engine.session.Session`, the polling handlers
(:mod:`.polling`) and a :class:`~siothread.engine.websocket.WebSocketConnection`
report to their owner only through :class:`SessionOwner`; none of them imports
:mod:`siothread.engine.server`. So dependencies run one way:
``server.py -> session / polling / websocket / ws_accept -> owner.py (this interface)``,
and following one request means reading down, never back up.

:class:`siothread.engine.Server` implements it. The calls, and when they come:

``session_packet(session, packet)``
    A decoded packet from the client arrived on a polling POST (the WebSocket
    reader hands whole messages to the ``on_message`` callback the server set).
``session_overflow(session) -> bool``
    The session's outbound queue (polling) or write backlog (WebSocket) is
    full; called from a write path, so it must not block. Its result is what
    the write returns (False: the packet was not taken).
``session_closing(session)``
    The session starts closing: requests for its sid stop reaching it.
``keep_last_poll(session)``
    A polling session closed by the server while no GET was parked: what it
    still owes (queued packets and the CLOSE) waits for the client's next GET.
``session_closed(session, reason)``
    The session is closed (once per session): the application's
    ``disconnect`` handler runs now.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol.engineio import Packet
    from ._runtime import Runtime
    from .config import EngineConfig
    from .session import Session

__all__ = ["SessionOwner"]


class SessionOwner(Protocol):
    """The owner of sessions and transports (see the module docstring for when each call comes)."""

    config: "EngineConfig"
    runtime: "Runtime"
    logger: logging.Logger
    #: whether debug logging is on (checked before building a debug message)
    debug: bool

    def session_packet(self, session: "Session", packet: "Packet") -> None: ...

    def session_overflow(self, session: "Session") -> bool: ...

    def session_closing(self, session: "Session") -> None: ...

    def keep_last_poll(self, session: "Session") -> None: ...

    def session_closed(self, session: "Session", reason: str) -> None: ...
