"""Connection-state recovery, the socket's side (Node's ``connectionStateRecovery``).

With ``recovery=`` on, every socket gets a private session id (``pid``) in its
CONNECT answer. A socket that closes after a lost connection hands its session
(sid, data; the adapter keeps its rooms and the packets broadcast since) to the
adapter (:func:`end_session`) before its rooms are removed. A later CONNECT
whose auth carries that ``pid`` (:meth:`~siothread.server.client.Client.restore`)
takes the session over (:func:`start_session`): same sid, rooms and data, and
the missed packets queued behind the CONNECT answer. A CONNECT that arrived
while the previous socket of its session was still closing waits for it
(:func:`resume_deferred`). The storage itself is the adapter's
(:mod:`siothread.adapters.recovery`).
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Optional

from ..adapters.base import RecoveredSession
from .reasons import reason

if TYPE_CHECKING:  # pragma: no cover
    from .socket import Socket

__all__ = ["start_session", "end_session", "resume_deferred", "RECOVERABLE"]

#: reasons after which a session is kept for recovery (Node's RECOVERABLE_DISCONNECT_REASONS,
#: plus a slow consumer whose connection was closed): the connection was lost, the client did not leave
RECOVERABLE = frozenset((reason.TRANSPORT_ERROR, reason.TRANSPORT_CLOSE, reason.FORCED_CLOSE, reason.PING_TIMEOUT,
                         reason.SERVER_SHUTTING_DOWN, reason.SLOW_CONSUMER))


def start_session(sock: "Socket", restored: Optional[RecoveredSession]) -> None:
    """Give a new socket its pid, or its previous session's rooms, data and missed packets."""
    server = sock.server
    if restored is None:
        sock.pid = secrets.token_urlsafe(18)  # 144 random bits
    else:
        sock.pid = restored.pid
        sock.recovered = True
        sock.session = restored.data
        sid = sock.sid
        for room in restored.rooms:
            if room != sid:
                try:
                    server.manager.enter_room(sock.namespace, sid, room)
                except ValueError:
                    pass  # meanwhile the sid room of another socket: never shared
        # sent right after the CONNECT ack, before anything emitted meanwhile
        held = [(server._encode(p), False, None) for p in restored.missed]
        sock.held[:0] = held
        if server._log:
            server.logger.info("socket %s recovered (%d missed packets)", sid, len(held))
    server._pids[sock.pid] = sock


def end_session(sock: "Socket") -> None:
    """A socket closes: keep its session if the connection was lost (before its rooms go)."""
    pid = sock.pid
    if pid is None:
        return
    server = sock.server
    if server._pids.get(pid) is sock:
        del server._pids[pid]
    if sock.connected_at > 0 and sock.close_reason in RECOVERABLE:
        try:
            server.manager.persist_session(sock.namespace, sock.sid, pid, sock.session)
        except Exception as exc:
            server.logger.error("persisting the session of %s failed", sock.sid, exc_info=exc)


def resume_deferred(sock: "Socket") -> None:
    """``sock`` closed: handle the CONNECT of the same session that waited for it, if any."""
    waiting = sock.server._deferred.pop(sock, None)
    if waiting is not None:
        client, packet, size = waiting
        client.resume_connect(packet, size)
