"""``async_mode``: which concurrency runtime a server runs on, chosen once, at construction.

python-socketio's names are kept so that ``Server(async_mode=...)`` and the
``if sio.async_mode == ...`` branches of existing applications work unchanged:

- ``'gevent'``: greenlets on gevent's hub (siothread's own server, gunicorn's
  gevent workers, ``gevent.pywsgi``). The fast mode; every connection costs a
  few KiB.
- ``'gevent_uwsgi'``: the same runtime, for uWSGI's gevent loop (``--gevent``);
  WebSockets go through the connection uWSGI hands over
  (:mod:`siothread.engine.ws_accept`).
- ``'threading'``: OS threads, for WSGI servers that run each request in a
  thread without gevent's monkey-patching (Werkzeug's dev server, waitress,
  gunicorn ``gthread``, uWSGI ``--threads``). See
  :mod:`siothread.engine._threading_runtime`.
- ``None``: pick what the process can serve, as python-socketio does: gevent
  when gevent's monkey-patching is active or the server is built inside a
  greenlet, ``gevent_uwsgi`` under uWSGI's gevent loop, else threading.

``'eventlet'`` is refused: siothread has no eventlet runtime, and an eventlet
hub calling a gevent or thread-based server blocks the whole process.
"""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

__all__ = ["ASYNC_MODES", "select_runtime", "detect_mode"]

#: every value ``async_mode`` accepts besides None
ASYNC_MODES = ("gevent", "gevent_uwsgi", "threading")


def _uwsgi_gevent_loop() -> bool:
    """True inside a uWSGI worker started with ``--gevent`` (the ``uwsgi`` module exists only there)."""
    uwsgi = sys.modules.get("uwsgi")
    if uwsgi is None:
        return False
    opt = getattr(uwsgi, "opt", None) or {}
    return bool(opt.get("gevent") or opt.get(b"gevent"))  # type: ignore[call-overload]


def _gevent_active() -> bool:
    """True when gevent's monkey-patching is in effect or we run in a greenlet below a hub."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        return True
    import greenlet

    return greenlet.getcurrent().parent is not None


def detect_mode() -> str:
    """The mode ``async_mode=None`` selects in this process, now."""
    if _uwsgi_gevent_loop():
        return "gevent_uwsgi"
    if _gevent_active():
        return "gevent"
    return "threading"


def select_runtime(async_mode: Optional[str], runtime: Any = None) -> Tuple[str, Any]:
    """``(mode, runtime)`` for an ``async_mode`` value; ``ValueError`` names the supported modes.

    ``runtime`` (a test's fake-clock runtime) is used as given, with the mode it declares.
    """
    if runtime is not None:
        return getattr(runtime, "mode", "gevent"), runtime
    if async_mode is None:
        async_mode = detect_mode()
    if async_mode not in ASYNC_MODES:
        hint = (" (siothread has no eventlet runtime: an eventlet hub blocks the whole process "
                "while a request waits)") if async_mode == "eventlet" else ""
        raise ValueError(f"unsupported async_mode {async_mode!r}{hint}; use None (automatic), "
                         + ", ".join(repr(m) for m in ASYNC_MODES))
    if async_mode == "threading":
        from ._threading_runtime import THREADING_RUNTIME

        return async_mode, THREADING_RUNTIME
    from ._runtime import RUNTIME

    return async_mode, RUNTIME
