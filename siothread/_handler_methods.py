"""The ``on_<event>`` methods of a class-based namespace, collected once into a dict.

Shared by the server's ``Namespace`` and the client's ``ClientNamespace``: an
event name chosen by the peer is looked up in this dict, never turned into an
attribute lookup (python-socketio does ``getattr(self, 'on_' + event)``).
"""
from typing import Any, Callable, Dict

__all__ = ["on_methods"]


def on_methods(obj: Any) -> Dict[str, Callable[..., Any]]:
    """``{event: bound method}`` for every callable ``on_<event>`` attribute of ``obj``'s class."""
    handlers: Dict[str, Callable[..., Any]] = {}
    for name in dir(type(obj)):
        if name.startswith("on_") and len(name) > 3:
            member = getattr(obj, name)
            if callable(member):
                handlers[name[3:]] = member
    return handlers
