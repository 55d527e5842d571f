"""The Flask context of one Socket.IO event, and the Flask session seen from Socket.IO handlers.

Every handler runs inside ``app.request_context(environ)`` built from the
connection's handshake request (a fresh copy of its WSGI environ per event), so
``request``, ``current_app``, ``g`` (new per event), ``session`` and the
teardown callbacks of the app and its extensions behave as they do in a view.
Only public Flask API is used: ``app.request_context``, ``app.session_interface``
and ``app.response_class``.

Sessions (security row F1, ``docs/flask.md``):

- ``manage_session=True`` (the default): each Engine.IO connection works on its
  own copy of the session, taken from the handshake request the first time a
  handler runs (at connect). Changes stay with that connection; they never
  reach the HTTP session. The copy is served by :class:`SessionBridge`, a
  pass-through wrapper around the app's own session interface that answers
  ``open_session`` with the copy for Socket.IO contexts only.
- ``manage_session=False``: Flask opens the session as for a view, from the
  handshake request, and after each handler it is saved through the app's
  session interface when modified. With server-side sessions (Flask-Session)
  reads and writes are shared with HTTP views both ways; a cookie session is
  the one of the handshake, and writes to it are lost (there is no response to
  carry a cookie).
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple

import flask
from flask.sessions import SessionMixin

__all__ = ["ManagedSession", "SessionBridge", "event_context", "ENVIRON_SESSION_KEY"]

#: where a connection's session copy lives in its handshake environ (one per Engine.IO connection)
ENVIRON_SESSION_KEY = "flask_siothread.session"


class ManagedSession(dict, SessionMixin):  # type: ignore[type-arg]
    """A connection's own copy of the Flask session (``manage_session=True``)."""


class _Slot:
    """Holds the session copy of one connection until the first handler takes it."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: Optional[ManagedSession] = None


class SessionBridge:
    """The app's session interface, with Socket.IO contexts served from the connection's copy.

    Everything except ``open_session``/``save_session`` is the wrapped
    interface's (attribute access is forwarded), so HTTP requests behave exactly
    as before, whatever the interface (cookie sessions, Flask-Session, ...).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_session(self, app: flask.Flask, request: Any) -> Any:
        slot = request.environ.get(ENVIRON_SESSION_KEY)
        if not isinstance(slot, _Slot):
            return self.inner.open_session(app, request)
        if slot.session is None:
            real = self.inner.open_session(app, request)
            copy = ManagedSession(real if real is not None else {})
            if slot.session is None:  # open_session may have yielded (a server-side store)
                slot.session = copy
        return slot.session

    def save_session(self, app: flask.Flask, session: Any, response: Any) -> None:
        if isinstance(session, ManagedSession):
            return  # a connection's copy never becomes a cookie or a stored session
        self.inner.save_session(app, session, response)

    def is_null_session(self, obj: Any) -> bool:
        if isinstance(obj, ManagedSession):
            return False
        return bool(self.inner.is_null_session(obj))


def _bridge(app: flask.Flask) -> None:
    """Wrap the app's session interface once (again if the app replaced it meanwhile)."""
    current = app.session_interface
    if not isinstance(current, SessionBridge):
        app.session_interface = SessionBridge(current)  # type: ignore[assignment]


def _event_environ(environ: Dict[str, Any]) -> Dict[str, Any]:
    env = dict(environ)
    # the handshake's body stream belongs to a finished request: never read it again
    env["wsgi.input"] = io.BytesIO(b"")
    env["CONTENT_LENGTH"] = "0"
    return env


@contextmanager
def event_context(app: flask.Flask, environ: Dict[str, Any], manage_session: bool, sid: str, namespace: str,
                  event: Optional[str], args: Tuple[Any, ...]) -> Iterator[None]:
    """Push the app and request contexts of one Socket.IO event for the block.

    ``request.sid``, ``request.namespace`` and ``request.event``
    (``{"message": event, "args": args}``) are set on the request.
    """
    env = _event_environ(environ)
    if manage_session:
        _bridge(app)
        slot = environ.get(ENVIRON_SESSION_KEY)
        if not isinstance(slot, _Slot):
            slot = environ.setdefault(ENVIRON_SESSION_KEY, _Slot())
        env[ENVIRON_SESSION_KEY] = slot
    with app.request_context(env):
        request = flask.request
        request.sid = sid  # type: ignore[attr-defined]
        request.namespace = namespace  # type: ignore[attr-defined]
        request.event = {"message": event, "args": args}  # type: ignore[attr-defined]
        if manage_session:
            flask.session.get("_")  # take the connection's copy now (at connect), not at first use
        yield
        if not manage_session:
            _save_session(app)


def _save_session(app: flask.Flask) -> None:
    """Save a session a handler modified through the app's own interface (server-side stores)."""
    session = flask.session._get_current_object()  # type: ignore[attr-defined]
    if getattr(session, "modified", True):
        interface = app.session_interface
        if not interface.is_null_session(session):
            interface.save_session(app, session, app.response_class())


def in_socket_context() -> bool:
    """True inside a Socket.IO handler's request context."""
    return flask.has_request_context() and getattr(flask.request, "sid", None) is not None
