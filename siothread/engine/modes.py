"""``async_mode``: which concurrency runtime a server runs on, chosen once.

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
- ``None`` (the default): pick what the process can serve. With evidence at
  construction it is decided then: ``gevent_uwsgi`` under uWSGI's gevent loop,
  gevent when gevent's monkey-patching is active or the server is built inside
  a greenlet. Without (an unpatched process building its app at import time,
  which siothread's own gevent server and a threaded WSGI server both do), the
  server is *undecided* and resolves once, at the first of: its first request
  (from a gevent greenlet: gevent; from an OS thread: threading), siothread's
  gevent server starting with it (``siothread.serve``, ``make_server``,
  ``python -m siothread``, the gunicorn worker, ``flask_siothread``'s
  ``run()``: gevent, see :func:`serving_on_gevent`), or any other use before
  those (``start_background_task``, ``sleep``, ``emit``...: :func:`detect_mode`
  where it is called). See :mod:`siothread.engine._auto_runtime`.
  ``sio.async_mode`` reports the resolved mode; before resolution it reports
  what :func:`detect_mode` picks in the calling context (never None, so that
  ``if sio.async_mode == 'threading': app.run(threaded=True)`` branches work),
  which the first request may still overrule.

Explicit modes are decided at construction and never change.

``'eventlet'`` is refused: siothread has no eventlet runtime, and an eventlet
hub calling a gevent or thread-based server blocks the whole process.
"""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

__all__ = ["ASYNC_MODES", "select_runtime", "detect_mode", "serving_on_gevent"]

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


def select_runtime(async_mode: Optional[str], runtime: Any = None) -> Tuple[Optional[str], Any]:
    """``(mode, runtime)`` for an ``async_mode`` value; ``ValueError`` names the supported modes.

    ``runtime`` (a test's fake-clock runtime) is used as given, with the mode it declares.
    ``None`` without evidence at construction gives ``(None, AutoRuntime())``: decided at first use.
    """
    if runtime is not None:
        return getattr(runtime, "mode", "gevent"), runtime
    if async_mode is None:
        if not (_uwsgi_gevent_loop() or _gevent_active()):
            from ._auto_runtime import AutoRuntime

            return None, AutoRuntime()
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


#: attributes through which :func:`serving_on_gevent` looks for servers inside an application
_INNER = ("server", "eio", "wsgi_app", "other_wsgi_app", "app", "application", "socketio", "wsgi")


def serving_on_gevent(app: Any, by: str) -> None:
    """siothread's gevent server is about to serve ``app``: undecided servers in it resolve to gevent.

    Follows the usual wrappers (``WSGIApp.server``, a Flask app's ``wsgi_app``,
    ``flask_siothread``'s extension, a Socket.IO server's ``eio``) through their
    instance attributes only. A server not found there still resolves correctly,
    at its first request (which comes from a greenlet). One resolved to threading
    already (a background task started before serving) is logged: its requests
    will be refused, and the message says why.
    """
    from ._auto_runtime import AutoRuntime

    seen = set()
    todo = [(app, 0)]
    while todo:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 6:
            continue
        seen.add(id(obj))
        attrs = getattr(obj, "__dict__", None)
        if not isinstance(attrs, dict):
            continue
        auto = attrs.get("auto_runtime")
        if isinstance(auto, AutoRuntime) and id(auto) not in seen:
            seen.add(id(auto))
            auto.resolve("gevent", by)
            if auto.mode == "threading":
                import logging

                logging.getLogger("siothread.engine").error(
                    "async_mode=None resolved to 'threading' at %s, before %s started: its requests will be "
                    "refused. Fix: start background tasks after serving starts (or from a request), or build "
                    "the Server with async_mode='gevent'", auto.resolved_by, by)
        todo.extend((attrs[name], depth + 1) for name in _INNER if attrs.get(name) is not None)
