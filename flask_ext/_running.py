"""``socketio.run()``, ``socketio.stop()`` and the ``flask siothread run`` command.

Both serve on siothread's own gevent server (``siothread.serve``: header, body
and idle timeouts, graceful drain on SIGINT/SIGTERM), never on the Werkzeug
development server (security row F2): Flask-SocketIO falls back to Werkzeug
when neither eventlet nor gevent is installed, and refuses only outside a
terminal. ``debug=True`` adds Werkzeug's debugger in front of the Flask app
(not in front of Socket.IO), as ``flask run --debug`` does; ``use_reloader``
restarts the process when a source file changes (:mod:`._reloader`).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import click
import flask

from siothread.engine.modes import serving_on_gevent
from siothread.serving import serve

from . import _reloader

if TYPE_CHECKING:  # pragma: no cover
    from ._extension import SocketIO

__all__ = ["Runner", "register_cli"]

_SERVE_OPTIONS = ("header_timeout", "idle_timeout", "shutdown_timeout", "backlog", "ssl_context", "ca_certs",
                  "cert_reqs", "ciphers")


class _Served:
    """What ``siothread.serve`` runs: the Flask app, plus the graceful ``shutdown`` of the Socket.IO server."""

    def __init__(self, app: flask.Flask, socketio: "SocketIO") -> None:
        self.app = app
        self.socketio = socketio

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def shutdown(self, timeout: float) -> None:
        self.socketio._require_server().shutdown(timeout)


class Runner:
    """Runs one extension's server in this process, and stops it on request."""

    def __init__(self, socketio: "SocketIO") -> None:
        self.socketio = socketio
        self._stop_event: Any = None

    def run(self, app: flask.Flask, host: Optional[str] = None, port: Optional[int] = None, *,
            debug: Optional[bool] = None, use_reloader: Optional[bool] = None, log_output: Optional[bool] = None,
            reloader_options: Optional[Dict[str, Any]] = None, extra_files: Optional[List[str]] = None,
            certfile: Optional[str] = None, keyfile: Optional[str] = None,
            allow_unsafe_werkzeug: bool = False, **kwargs: Any) -> None:
        """See :meth:`flask_siothread.SocketIO.run`.

        ``allow_unsafe_werkzeug`` is accepted for Flask-SocketIO code and
        ignored: the Werkzeug server is never used.
        """
        unknown = set(kwargs) - set(_SERVE_OPTIONS)
        if unknown:
            raise TypeError(f"unknown run() option(s): {', '.join(sorted(unknown))}")
        host = host or "127.0.0.1"
        if port is None:
            server_name = app.config.get("SERVER_NAME")
            port = int(server_name.rsplit(":", 1)[1]) if server_name and ":" in server_name else 5000
        debug = app.debug if debug is None else bool(debug)
        use_reloader = debug if use_reloader is None else bool(use_reloader)
        log_output = debug if log_output is None else bool(log_output)
        options = dict(reloader_options or {})
        options.pop("reloader_type", None)  # Werkzeug's choice of stat or watchdog: this reloader is stat-based
        unknown_reloader = set(options) - {"extra_files", "exclude_patterns", "interval"}
        if unknown_reloader:
            raise TypeError(f"unknown reloader option(s): {', '.join(sorted(unknown_reloader))}")
        if extra_files:
            options["extra_files"] = list(options.get("extra_files") or ()) + list(extra_files)
        if use_reloader and not _reloader.is_child():
            sys.exit(_reloader.run_parent())
        app.debug = debug
        if debug:
            self._add_debugger()
        if certfile or keyfile:
            kwargs.update(certfile=certfile, keyfile=keyfile)
        server = self.socketio._require_server()
        serving_on_gevent(server, "socketio.run()")  # before the runtime is used below
        self._stop_event = stop_event = server.runtime.Event()
        watcher = _reloader.watch(server, stop_event, **options) if use_reloader else None
        try:
            serve(_Served(app, self.socketio), host, port, stop_event=stop_event,
                            log="default" if log_output else None, **kwargs)
        finally:
            self._stop_event = None
        if watcher is not None:
            watcher.kill()
            if watcher.changed:
                sys.exit(_reloader.RESTART_CODE)

    def _add_debugger(self) -> None:
        """Werkzeug's interactive debugger between the Socket.IO middleware and the Flask app."""
        from werkzeug.debug import DebuggedApplication

        middleware = self.socketio.sockio_mw
        if middleware is None or middleware.other_wsgi_app is None \
                or isinstance(middleware.other_wsgi_app, DebuggedApplication):
            return
        debugged = DebuggedApplication(middleware.other_wsgi_app, evalex=True)
        middleware.other_wsgi_app = debugged
        if debugged.pin:
            print(f" * Debugger is active! Debugger PIN: {debugged.pin}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        event = self._stop_event
        if event is None:
            raise RuntimeError("the server was not started by socketio.run()")
        event.set()


def register_cli(app: flask.Flask, socketio: "SocketIO") -> None:
    """``flask siothread run``: the same server as :meth:`SocketIO.run`, with reload and debug options."""

    @click.group("siothread", help="Socket.IO (siothread) commands.")
    def group() -> None:
        pass

    @group.command("run", help="Serve the app and Socket.IO on siothread's gevent server.")
    @click.option("--host", "-h", default="127.0.0.1", show_default=True, help="The interface to bind to.")
    @click.option("--port", "-p", default=5000, show_default=True, type=int, help="The port to bind to.")
    @click.option("--reload/--no-reload", default=None, help="Restart when a source file changes "
                  "(default: on with --debug).")
    @click.option("--debugger/--no-debugger", default=None, help="Werkzeug's debugger for HTTP views "
                  "(default: on with --debug).")
    @click.option("--cert", type=click.Path(exists=True, dir_okay=False), help="TLS certificate file.")
    @click.option("--key", type=click.Path(exists=True, dir_okay=False), help="TLS key file.")
    @click.option("--extra-files", multiple=True, type=click.Path(), help="More files to watch for --reload.")
    def run_command(host: str, port: int, reload: Optional[bool], debugger: Optional[bool], cert: Optional[str],
                    key: Optional[str], extra_files: Tuple[str, ...]) -> None:
        current = flask.current_app._get_current_object()  # type: ignore[attr-defined]
        debug = current.debug if debugger is None else debugger
        socketio.run(current, host=host, port=port, debug=debug,
                     use_reloader=current.debug if reload is None else reload, log_output=True,
                     certfile=cert, keyfile=key, extra_files=list(extra_files) or None)

    app.cli.add_command(group)
