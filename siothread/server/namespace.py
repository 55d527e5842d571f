"""Class-based namespaces (python-socketio's ``socketio.Namespace``).

``on_<event>`` methods are collected once, when the class is registered, into a
dict; an incoming event is dispatched with a dict lookup. python-socketio does
``getattr(self, 'on_' + event)`` with the client's event name, which lets a
client reach any ``on_``-prefixed attribute (style principle 10).

A subclass may override :meth:`trigger_event` (the hook Flask-SocketIO users
rely on); the default implementation only uses the dict.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, List, Optional, Union

from .._handler_methods import on_methods

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["Namespace"]


class Namespace:
    """Handlers for one namespace as methods: ``on_connect``, ``on_disconnect``, ``on_<event>``.

    Args:
        namespace: the namespace name (``'/'`` by default), ``'*'`` for every
            namespace, or a dynamic parent (compiled regex or callable). For ``'*'``
            and dynamic parents the methods receive the namespace name first,
            like the decorator-based handlers.

    Register with ``sio.register_namespace(MyNamespace('/chat'))``.
    """

    def __init__(self, namespace: Union[str, "re.Pattern[str]", Callable[[str, Any], bool], None] = None) -> None:
        self.namespace = namespace if namespace is not None else "/"
        self.server: Optional["Server"] = None
        self._handlers: Dict[str, Callable[..., Any]] = {}

    # -- registration (called by Server.register_namespace) -----------------
    def _set_server(self, server: "Server") -> Dict[str, Callable[..., Any]]:
        self.server = server
        self._handlers = on_methods(self)
        return self._handlers

    def _overrides_trigger(self) -> bool:
        return type(self).trigger_event is not Namespace.trigger_event

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Run the ``on_<event>`` method for ``event``; returns its result (the ack).

        Unknown events return None without touching any attribute.
        """
        handler = self._handlers.get(event)
        if handler is None:
            return None
        return handler(*args)

    # -- helpers bound to this namespace ------------------------------------
    def _ns(self, namespace: Optional[str]) -> Optional[str]:
        if namespace is not None:
            return namespace
        return self.namespace if isinstance(self.namespace, str) and self.namespace != "*" else None

    def _srv(self) -> "Server":
        if self.server is None:
            raise RuntimeError("the namespace is not registered with a server")
        return self.server

    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False, volatile: bool = False, compress: Optional[bool] = None,
             timeout: Optional[float] = None) -> None:
        """``Server.emit`` with this namespace as the default."""
        self._srv().emit(event, data=data, to=to, room=room, skip_sid=skip_sid, namespace=self._ns(namespace),
                         callback=callback, ignore_queue=ignore_queue, volatile=volatile, compress=compress,
                         timeout=timeout)

    def send(self, data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False) -> None:
        """``Server.send`` with this namespace as the default."""
        self._srv().send(data, to=to, room=room, skip_sid=skip_sid, namespace=self._ns(namespace),
                         callback=callback, ignore_queue=ignore_queue)

    def call(self, event: str, data: Any = None, to: Any = None, sid: Optional[str] = None,
             namespace: Optional[str] = None, timeout: float = 60, ignore_queue: bool = False) -> Any:
        """``Server.call`` with this namespace as the default."""
        return self._srv().call(event, data=data, to=to, sid=sid, namespace=self._ns(namespace),
                                timeout=timeout, ignore_queue=ignore_queue)

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        self._srv().enter_room(sid, room, namespace=self._ns(namespace))

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        self._srv().leave_room(sid, room, namespace=self._ns(namespace))

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        self._srv().close_room(room, namespace=self._ns(namespace))

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        return self._srv().rooms(sid, namespace=self._ns(namespace))

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        return self._srv().get_session(sid, namespace=self._ns(namespace))

    def save_session(self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None) -> None:
        self._srv().save_session(sid, session, namespace=self._ns(namespace))

    def session(self, sid: str, namespace: Optional[str] = None) -> ContextManager[Dict[str, Any]]:
        return self._srv().session(sid, namespace=self._ns(namespace))

    def disconnect(self, sid: str, namespace: Optional[str] = None) -> None:
        self._srv().disconnect(sid, namespace=self._ns(namespace))
