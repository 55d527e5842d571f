"""Class-based namespaces for Flask (Flask-SocketIO's ``flask_socketio.Namespace``).

``on_<event>`` methods take the event's arguments, like decorated handlers
(``request.sid`` says who sent it). They are collected into a dict when the
class is registered; an incoming event name is looked up in that dict, never
turned into an attribute name (the client chooses event names). Overriding
:meth:`trigger_event` catches every event of the namespace, the hook
Flask-SocketIO users rely on for code around every handler.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._extension import SocketIO

__all__ = ["Namespace"]


class Namespace:
    """Handlers of one namespace as methods; register with ``socketio.on_namespace(MyNamespace('/chat'))``."""

    def __init__(self, namespace: Optional[str] = None) -> None:
        namespace = namespace or "/"
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError("a class-based namespace is a static name starting with '/'")
        self.namespace = namespace
        self.socketio: Optional["SocketIO"] = None
        self._handlers: Dict[str, Callable[..., Any]] = {}

    def _set_socketio(self, socketio: "SocketIO") -> None:
        self.socketio = socketio
        self._handlers = {}
        for name in dir(type(self)):
            if name.startswith("on_") and len(name) > 3:
                member = getattr(self, name)
                if callable(member):
                    self._handlers[name[3:]] = member

    def _overrides_trigger(self) -> bool:
        return type(self).trigger_event is not Namespace.trigger_event

    def _adapters(self) -> Dict[str, Callable[..., Any]]:
        """Server-level handlers: every ``on_`` method, and every event when trigger_event is overridden."""
        trigger = self.trigger_event
        adapters: Dict[str, Callable[..., Any]] = {}
        events = set(self._handlers)
        if self._overrides_trigger():
            events |= {"connect", "disconnect"}

            def on_any(event: str, sid: str, *args: Any) -> Any:
                return trigger(event, sid, *args)

            adapters["*"] = on_any
        for event in events:
            if event == "connect":
                adapters[event] = lambda sid, environ, auth: trigger("connect", sid, auth)
            elif event == "disconnect":
                adapters[event] = lambda sid, reason: trigger("disconnect", sid, reason)
            else:
                adapters[event] = (lambda e: lambda sid, *args: trigger(e, sid, *args))(event)
        return adapters

    def trigger_event(self, event: str, sid: str, *args: Any) -> Any:
        """Run ``on_<event>`` in the event's Flask context; returns its result (the ack).

        ``connect`` gets ``auth`` and ``disconnect`` the reason when the method
        takes an argument. Unknown events return None.
        """
        handler = self._handlers.get(event)
        if handler is None or self.socketio is None:
            return None
        from ._extension import accepts_positional

        call_args = args
        if event in ("connect", "disconnect") and not accepts_positional(handler, 1):
            call_args = ()
        return self.socketio._dispatch(handler, event, self.namespace, sid, args, call_args)

    # -- helpers bound to this namespace (Flask-SocketIO's and python-socketio's) --
    def _sio(self) -> "SocketIO":
        if self.socketio is None:
            raise RuntimeError("the namespace is not registered: socketio.on_namespace(...)")
        return self.socketio

    def emit(self, event: str, data: Any = None, room: Any = None, include_self: bool = True,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None, **kwargs: Any) -> None:
        """Emit an event (to everyone in this namespace unless ``room``/``to``)."""
        args = () if data is None else (data,)
        self._sio().emit(event, *args, room=room, include_self=include_self, namespace=namespace or self.namespace,
                         callback=callback, **kwargs)

    def send(self, data: Any, room: Any = None, include_self: bool = True, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, **kwargs: Any) -> None:
        """Send a ``'message'`` event."""
        self._sio().send(data, to=room, include_self=include_self, namespace=namespace or self.namespace,
                         callback=callback, **kwargs)

    def call(self, event: str, data: Any = None, to: Any = None, namespace: Optional[str] = None,
             timeout: float = 60, **kwargs: Any) -> Any:
        """Emit to one client and wait for its ack."""
        args = () if data is None else (data,)
        return self._sio().call(event, *args, to=to, namespace=namespace or self.namespace, timeout=timeout,
                                **kwargs)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        self._sio().close_room(room, namespace=namespace or self.namespace)

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        self._sio()._require_server().enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        self._sio()._require_server().leave_room(sid, room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        return self._sio()._require_server().rooms(sid, namespace=namespace or self.namespace)  # type: ignore[no-any-return]

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """siothread's per-socket data (not the Flask session)."""
        return self._sio()._require_server().get_session(sid, namespace=namespace or self.namespace)  # type: ignore[no-any-return]

    def save_session(self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None) -> None:
        self._sio()._require_server().save_session(sid, session, namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: Optional[str] = None) -> ContextManager[Dict[str, Any]]:
        return self._sio()._require_server().session(sid, namespace=namespace or self.namespace)  # type: ignore[no-any-return]

    def disconnect(self, sid: str, namespace: Optional[str] = None) -> None:
        self._sio()._require_server().disconnect(sid, namespace=namespace or self.namespace)
