"""Class-based client namespaces (python-socketio's ``socketio.ClientNamespace``).

As on the server, the ``on_<event>`` methods are collected into a dict when the
instance is registered (``client.register_namespace(ns)``), so an event name
sent by the server never becomes an attribute lookup. A subclass may override
:meth:`ClientNamespace.trigger_event` to wrap every handler.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from .._handler_methods import on_methods

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["ClientNamespace"]


class ClientNamespace:
    """Handlers for one namespace as methods: ``on_connect``, ``on_disconnect``, ``on_<event>``.

    ``namespace`` is the namespace name (``'/'`` by default). The methods take the
    event's arguments only, like decorator-registered client handlers.
    """

    def __init__(self, namespace: Optional[str] = None) -> None:
        self.namespace = namespace or "/"
        self.client: Optional["Client"] = None
        self._handlers: Dict[str, Callable[..., Any]] = {}

    def _set_client(self, client: "Client") -> None:
        self.client = client
        self._handlers = on_methods(self)

    def _overrides_trigger(self) -> bool:
        return type(self).trigger_event is not ClientNamespace.trigger_event

    def handler(self, event: str) -> Optional[Callable[..., Any]]:
        """The callable the client runs for ``event``, or None when this namespace has none."""
        if self._overrides_trigger():
            return lambda *args: self.trigger_event(event, *args)
        return self._handlers.get(event)

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Run the ``on_<event>`` method for ``event``; returns its result (the ack)."""
        handler = self._handlers.get(event)
        if handler is None:
            return None
        return handler(*args)

    def _cli(self) -> "Client":
        if self.client is None:
            raise RuntimeError("the namespace is not registered with a client")
        return self.client

    def emit(self, event: str, data: Any = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> None:
        """``Client.emit`` with this namespace as the default."""
        self._cli().emit(event, data=data, namespace=namespace or self.namespace, callback=callback)

    def send(self, data: Any, room: Any = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> None:
        """``Client.send`` with this namespace as the default (``room`` is ignored, as in python-socketio)."""
        self._cli().send(data, namespace=namespace or self.namespace, callback=callback)

    def call(self, event: str, data: Any = None, namespace: Optional[str] = None,
             timeout: Optional[float] = None) -> Any:
        """``Client.call`` with this namespace as the default."""
        kwargs: Dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        return self._cli().call(event, data=data, namespace=namespace or self.namespace, **kwargs)

    def disconnect(self) -> None:
        self._cli().disconnect()
