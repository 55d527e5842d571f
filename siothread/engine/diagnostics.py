"""The errors a deployment mistake produces: logged once, clearly, with the fix.

A WSGI server that drives the app in a way its ``async_mode`` cannot serve,
or that cannot hand a connection over for a WebSocket, would otherwise show up
as a long-poll that never returns or an upgrade that silently fails. Each such
mistake is logged once per server (the fix is the same for every request), and
the request gets a fixed error body at once.

Refused browser origins are logged as warnings, as python-engineio does; the
origin is client-controlled, so it is shown with ``repr``, truncated, and only
the first few distinct origins are logged (a scan cannot flood the log).
"""
from __future__ import annotations

import logging
from typing import Set

__all__ = ["Diagnostics", "NO_HANDOVER"]

NO_HANDOVER = (
    "this WSGI server cannot hand the connection over for a WebSocket (it gives the application "
    "neither werkzeug.socket, gunicorn.socket, uWSGI's connection nor gevent-websocket's "
    "wsgi.websocket), so WebSocket requests are refused with 400 and clients stay on long-polling. "
    "Fix: serve the app with a server that can (siothread.serve, `python -m siothread`, gunicorn, "
    "Werkzeug, uWSGI with --http-websockets), or pass transports=['polling'] so that no client tries")

_MAX_ORIGINS_LOGGED = 32
_ORIGIN_CHARS = 200


class Diagnostics:
    """Once-only error reports for one engine server."""

    __slots__ = ("logger", "_reported", "_origins")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._reported: Set[str] = set()
        self._origins: Set[str] = set()

    def once(self, key: str, message: str) -> None:
        """Log ``message`` as an error the first time ``key`` is reported."""
        if key not in self._reported:
            self._reported.add(key)
            self.logger.error("siothread: %s", message)

    def refused_origin(self, origin: str) -> None:
        """A browser origin the CORS policy refused (warning, like python-engineio's log line)."""
        shown = origin[:_ORIGIN_CHARS]
        if shown in self._origins:
            return
        if len(self._origins) >= _MAX_ORIGINS_LOGGED:
            if len(self._origins) == _MAX_ORIGINS_LOGGED:
                self._origins.add("")  # log the cut-off once
                self.logger.warning("siothread: more refused origins; no longer logging them")
            return
        self._origins.add(shown)
        self.logger.warning("siothread: %r is not an accepted origin (cors_allowed_origins); request refused",
                            shown)
