"""The attributes python-socketio applications read on a ``socketio.Server``.

python-socketio keeps these as plain mutable attributes; siothread keeps its
state elsewhere (the Engine.IO sessions, the handler registry), so they are
read-only views built on demand. Writing to them is not supported (there is
nothing in python-socketio's documented API that does).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Mapping

__all__ = ["PythonSocketIOAttributes"]


class _EnvironView(Mapping):
    """``sio.environ[eio_sid]``: the WSGI environ of each Engine.IO session (python-socketio's keys)."""

    __slots__ = ("_sessions",)

    def __init__(self, sessions: Mapping[str, Any]) -> None:
        self._sessions = sessions

    def __getitem__(self, eio_sid: str) -> Dict[str, Any]:
        return self._sessions[eio_sid].environ  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._sessions))

    def __len__(self) -> int:
        return len(self._sessions)


class PythonSocketIOAttributes:
    """``async_mode``, ``environ``, ``handlers`` and ``namespace_handlers``, as python-socketio names them."""

    eio: Any
    runtime: Any
    _registry: Any

    @property
    def async_mode(self) -> str:
        """The concurrency mode in use: ``'gevent'``, ``'gevent_uwsgi'`` or ``'threading'``."""
        return getattr(self.eio, "async_mode", None) or self.runtime.mode  # type: ignore[no-any-return]

    @property
    def environ(self) -> Mapping[str, Dict[str, Any]]:
        """WSGI environ by Engine.IO sid; :meth:`get_environ` takes the Socket.IO sid."""
        return _EnvironView(getattr(self.eio, "sessions", {}))

    @property
    def handlers(self) -> Dict[str, Dict[str, Callable[..., Any]]]:
        """``{namespace: {event: handler}}`` for the decorator-registered handlers (a snapshot)."""
        registry = self._registry
        sets = list(registry.static.values())
        if registry.catchall is not None:
            sets.append(registry.catchall)
        out: Dict[str, Dict[str, Callable[..., Any]]] = {}
        for hs in sets:
            table = dict(hs.events)
            if hs.connect is not None:
                table["connect"] = hs.connect
            if hs.disconnect is not None:
                table["disconnect"] = hs.disconnect
            if table:
                out[hs.key] = table
        return out

    @property
    def namespace_handlers(self) -> Dict[str, Any]:
        """``{namespace: Namespace instance}`` for class-based namespaces (a snapshot)."""
        registry = self._registry
        sets = list(registry.static.values())
        if registry.catchall is not None:
            sets.append(registry.catchall)
        return {hs.key: hs.ns_obj for hs in sets if hs.ns_obj is not None}
