"""``async_mode=None`` without evidence at construction: the runtime is chosen at first use.

An application built at import time in a process that gevent has not
monkey-patched looks the same whether it will be served by siothread's gevent
server (``siothread.serve``, ``python -m siothread``, ``socketio.run()`` of
``flask_siothread``) or by a threaded WSGI server (Werkzeug, waitress, gunicorn
``gthread``): only the first call tells. :class:`AutoRuntime` stands in for the
runtime until then, and resolves once, to the mode :func:`~.modes.detect_mode`
picks in the context of the first of:

- the first request (``handle_request``): a gevent greenlet below a hub gives
  ``'gevent'``, an OS thread ``'threading'``;
- siothread's gevent server starting with this app (:func:`~.modes.serving_on_gevent`):
  ``'gevent'``;
- any other use of the runtime or of the thread-safe API before those
  (``start_background_task``, ``sleep``, ``emit``, a timer...): where it is called from.

What the servers captured at construction stays consistent with the result:

- runtime members (``spawn``, ``call_later``, ``Event``...) read before resolution
  are trampolines that resolve, then call the resolved runtime's member; read
  after, they are the resolved runtime's own (cached on this object, so a lookup
  costs what it costs on the runtime itself);
- ``guard``-ed methods are wrappers that resolve on the first call; at
  resolution they are replaced by what the resolved runtime's ``guard`` makes
  (on gevent: the plain methods again), and wrappers captured earlier forward there;
- ``app_code`` wrappers forward to the resolved runtime's ``app_code(fn)``;
- ``on_resolve`` listeners (the servers) rebind their ``runtime`` attribute
  and rebuild what they made of it (the engine's idle event).
"""
from __future__ import annotations

import threading
from functools import wraps
from typing import Any, Callable, Iterable, List, Optional, Tuple

__all__ = ["AutoRuntime"]

#: members that are exception classes: an ``except`` clause needs the class itself
_EXCEPTIONS = ("Empty", "GreenletExit")


class AutoRuntime:
    """The runtime of a server whose ``async_mode`` is decided at first use (see the module docstring)."""

    #: None until resolved, then the resolved ``async_mode``
    mode: Optional[str] = None

    def __init__(self) -> None:
        self._lock = threading.RLock()
        #: the resolved runtime, published last (read without the lock)
        self.resolved: Any = None
        #: what resolved it, for diagnostics ("the first request", "siothread.serve", ...)
        self.resolved_by: Optional[str] = None
        self._guards: List[Tuple[Any, str, list]] = []
        self._app_code: List[Tuple[Callable[..., Any], list]] = []
        self._listeners: List[Callable[[str, Any], None]] = []

    # -- resolution --------------------------------------------------------------------
    def resolve(self, mode: Optional[str] = None, by: str = "its first use") -> Any:
        """The resolved runtime; the first call chooses it (``mode``, else :func:`detect_mode` here)."""
        resolved = self.resolved
        if resolved is not None:
            return resolved
        with self._lock:
            if self.resolved is not None:
                return self.resolved
            from .modes import detect_mode, select_runtime

            mode, runtime = select_runtime(mode or detect_mode())
            for obj, name, _ in self._guards:
                if obj.__dict__.get(name) is not None:
                    delattr(obj, name)  # the class's own method again
            for obj in {id(o): o for o, _, _ in self._guards}.values():
                runtime.guard(obj, [n for o, n, _ in self._guards if o is obj])
            for obj, name, cell in self._guards:
                cell[0] = getattr(obj, name)
            for fn, cell in self._app_code:
                cell[0] = runtime.app_code(fn)
            self._guards.clear()
            self._app_code.clear()
            self.mode, self.resolved_by = mode, by
            for listener in self._listeners:
                listener(mode, runtime)
            self.resolved = runtime
            return runtime

    def on_resolve(self, listener: Callable[[str, Any], None]) -> None:
        """Call ``listener(mode, runtime)`` at resolution (at once when already resolved)."""
        with self._lock:
            if self.resolved is None:
                self._listeners.append(listener)
                return
        listener(self.mode, self.resolved)  # type: ignore[arg-type]

    # -- the runtime interface -----------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        runtime = self.resolved
        if runtime is None and name in _EXCEPTIONS:
            runtime = self.resolve()
        if runtime is not None:
            value = getattr(runtime, name)
            self.__dict__[name] = value  # later lookups: the resolved runtime's own member
            return value
        from ._runtime import Runtime

        getattr(Runtime, name)  # AttributeError for a name the interface does not have

        def deferred(*args: Any, **kwargs: Any) -> Any:
            return getattr(self.resolve(None, f"runtime.{name}()"), name)(*args, **kwargs)

        deferred.__name__ = name
        return deferred

    def guard(self, obj: Any, names: Iterable[str]) -> None:
        """Make the named methods of ``obj`` resolve on their first call, then behave as the
        resolved runtime's ``guard`` makes them."""
        runtime = self.resolved
        if runtime is not None:
            runtime.guard(obj, names)
            return
        with self._lock:
            if self.resolved is not None:
                self.resolved.guard(obj, names)
                return
            for name in names:
                method = getattr(obj, name, None)
                if callable(method):
                    cell: list = [None]
                    setattr(obj, name, self._forwarder(method, cell, f"the first {name}() call"))
                    self._guards.append((obj, name, cell))

    def app_code(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as the resolved runtime's ``app_code`` makes it, decided at its first call."""
        runtime = self.resolved
        if runtime is not None:
            return runtime.app_code(fn)  # type: ignore[no-any-return]
        with self._lock:
            if self.resolved is not None:
                return self.resolved.app_code(fn)  # type: ignore[no-any-return]
            cell: list = [None]
            self._app_code.append((fn, cell))
            return self._forwarder(fn, cell)

    def _forwarder(self, fn: Callable[..., Any], cell: list, by: str = "its first use") -> Callable[..., Any]:
        resolve = self.resolve

        @wraps(fn)
        def forward(*args: Any, **kwargs: Any) -> Any:
            target = cell[0]
            if target is None:
                resolve(None, by)
                target = cell[0]
            return target(*args, **kwargs)

        return forward

    def cannot_serve(self) -> Optional[str]:
        """Never reached before resolution: ``handle_request`` is guarded, so it resolves first."""
        return self.resolve().cannot_serve()  # type: ignore[no-any-return]
