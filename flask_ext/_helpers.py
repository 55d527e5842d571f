"""Module-level helpers for Socket.IO handlers: ``emit``, ``send``, ``call``, rooms, ``disconnect``.

They read the sender from the event's context (``request.sid``,
``request.namespace``) and the extension from ``current_app.extensions``, with
Flask-SocketIO's names and defaults: ``emit`` answers the sender unless
``to``/``room`` or ``broadcast=True``. Outside a Socket.IO handler they work
when everything they would read from the context is given explicitly
(``namespace`` and ``to``/``broadcast``); otherwise they raise a
``RuntimeError`` that says to use ``socketio.emit(...)``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import flask

from ._context import in_socket_context

__all__ = ["emit", "send", "call", "join_room", "leave_room", "close_room", "rooms", "disconnect"]


def _socketio() -> Any:
    if not flask.has_app_context():
        raise RuntimeError("outside a Flask app context: use socketio.emit(...) and friends")
    try:
        return flask.current_app.extensions["socketio"]
    except KeyError:
        raise RuntimeError("this Flask app has no SocketIO extension (SocketIO(app) or socketio.init_app(app))") \
            from None


def _from_context(name: str, what: str) -> Any:
    if not in_socket_context():
        raise RuntimeError(f"{what} outside a Socket.IO handler: pass {name}= or use socketio.{what}(...)")
    return getattr(flask.request, name)


def _addressing(kwargs: Dict[str, Any], what: str, sender_unless: bool) -> Tuple[str, Any]:
    """``(namespace, to)`` from the keyword arguments (popped), the event's context filling the gaps.

    ``to`` falls back to ``room``, then to the sender unless ``sender_unless`` is true.
    """
    namespace = kwargs.pop("namespace", None)
    if namespace is None:
        namespace = _from_context("namespace", what)
    to = kwargs.pop("to", None)
    room = kwargs.pop("room", None)
    to = to if to is not None else room
    if to is None and not sender_unless:
        to = _from_context("sid", what)
    return namespace, to


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    """Emit an event; to the sender unless ``to``/``room`` or ``broadcast=True``.

    Keyword arguments: ``namespace`` (the event's), ``to``/``room``,
    ``broadcast``, ``include_self`` (False: leave the sender out),
    ``skip_sid``, ``callback`` (runs in this event's context), and siothread's
    ``ignore_queue``, ``volatile``, ``compress``, ``timeout``.
    """
    namespace, to = _addressing(kwargs, "emit", sender_unless=bool(kwargs.pop("broadcast", False)))
    _socketio().emit(event, *args, namespace=namespace, to=to, **kwargs)


def send(message: Any, **kwargs: Any) -> None:
    """Send a ``'message'`` event (``'json'`` with ``json=True``); the options of :func:`emit`."""
    json = kwargs.pop("json", False)
    emit("json" if json else "message", message, **kwargs)


def call(event: str, *args: Any, **kwargs: Any) -> Any:
    """Emit to the sender (or ``to=sid``) and wait for the ack (``timeout=60``)."""
    namespace, to = _addressing(kwargs, "call", sender_unless=False)
    return _socketio().call(event, *args, namespace=namespace, to=to, **kwargs)


def join_room(room: str, sid: Optional[str] = None, namespace: Optional[str] = None) -> None:
    """Put the sender (or ``sid``) into ``room``."""
    server = _socketio()._require_server()
    server.enter_room(sid or _from_context("sid", "join_room"), room,
                      namespace=namespace or _from_context("namespace", "join_room"))


def leave_room(room: str, sid: Optional[str] = None, namespace: Optional[str] = None) -> None:
    """Take the sender (or ``sid``) out of ``room``."""
    server = _socketio()._require_server()
    server.leave_room(sid or _from_context("sid", "leave_room"), room,
                      namespace=namespace or _from_context("namespace", "leave_room"))


def close_room(room: str, namespace: Optional[str] = None) -> None:
    """Remove everyone from ``room`` (in the event's namespace unless given)."""
    _socketio().close_room(room, namespace=namespace or _from_context("namespace", "close_room"))


def rooms(sid: Optional[str] = None, namespace: Optional[str] = None) -> List[str]:
    """The rooms of the sender (or ``sid``), its own sid room included."""
    server = _socketio()._require_server()
    return server.rooms(sid or _from_context("sid", "rooms"),  # type: ignore[no-any-return]
                        namespace=namespace or _from_context("namespace", "rooms"))


def disconnect(sid: Optional[str] = None, namespace: Optional[str] = None, silent: bool = False) -> None:
    """Disconnect the sender (or ``sid``) from the namespace; its disconnect handler runs."""
    server = _socketio()._require_server()
    server.disconnect(sid or _from_context("sid", "disconnect"),
                      namespace=namespace or _from_context("namespace", "disconnect"))
