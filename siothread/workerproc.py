"""One worker process of several: siothread's HTTP/1.1 servers on the shared listeners,
the session hand-off among the workers (:mod:`siothread.handoff`), and a graceful stop.

Used by the gunicorn worker (:mod:`siothread.gunicorn`) and by the pre-fork of
``siothread.serve(app, workers=N)`` (:mod:`siothread.prefork`), which differ only in
who forks, supervises and signals the processes.
"""
from __future__ import annotations

import logging
import os
import secrets
from typing import Any, Callable, Dict, List, Optional

import gevent

from .handoff import Router
from .serving import Handler, Server

__all__ = ["WorkerProcess", "current_worker", "find_shutdown", "find_socketio_server", "install_worker_manager",
           "release_before_fork"]

#: Test-only: ``SIOTHREAD_TEST_SCATTER=N`` (N workers) makes every worker pass each accepted
#: connection, before reading it, to the next live worker slot in turn (itself included), so
#: that the consecutive connections of one client reach alternating workers whatever the
#: kernel does.
SCATTER_ENV = "SIOTHREAD_TEST_SCATTER"

_current: Optional["WorkerProcess"] = None


def current_worker() -> Optional["WorkerProcess"]:
    """The :class:`WorkerProcess` running in this process, if any (its ``router.slot``, ``router.stats``)."""
    return _current


def find_socketio_server(app: Any) -> Any:
    """The :class:`siothread.Server` a WSGI app serves, or None.

    Looked for through :class:`siothread.WSGIApp` (``server``), a Flask-style app whose
    ``wsgi_app`` is one (``flask_siothread`` installs its middleware there), and wrappers
    that keep the app they wrap as ``app`` or ``wsgi_app`` (a few levels deep).
    """
    from .server import Server as SocketIOServer

    targets, seen = [app], set()
    for _ in range(8):
        found = []
        for target in targets:
            if target is None or id(target) in seen:
                continue
            seen.add(id(target))
            server = _attribute(target, "server")
            if isinstance(server, SocketIOServer):
                return server
            found += [_attribute(target, "wsgi_app"), _attribute(target, "app")]
        targets = found
    return None


def _attribute(target: Any, name: str) -> Any:
    try:
        return getattr(target, name, None)
    except Exception:  # noqa: BLE001 - a proxy object that cannot answer outside its context
        return None


def release_before_fork(app: Any) -> None:
    """In a process about to fork workers that serve ``app`` (and serving no client itself):
    its Socket.IO server's adapter leaves the cluster (:meth:`siothread.adapters.base.Adapter.release`),
    so this process is not a node and no worker inherits its connections; each worker joins
    on its own as it starts (:func:`install_worker_manager`)."""
    sio = find_socketio_server(app)
    if sio is not None:
        sio.manager.release()


def install_worker_manager(app: Any) -> None:
    """Rooms and broadcasts across the workers: the default in-process adapter of ``app``'s
    Socket.IO server becomes a :class:`~siothread.adapters.workers.WorkerManager` (an adapter
    the application chose, Redis say, is kept and joins its cluster from this worker, as a
    node of its own), which starts listening to the other workers now."""
    sio = find_socketio_server(app)
    if sio is None:
        return
    from .adapters.memory import MemoryManager

    manager = sio.manager
    uid = getattr(manager, "uid", None)
    if isinstance(uid, str) and uid and not sio._manager_ready and not getattr(manager, "fork_safe", False):
        # Made before the fork (serve(workers=N), gunicorn --preload), the adapter's node id is
        # the same in every worker, and each would ignore the others' messages as its own.
        # (A fork-safe adapter takes a new one itself when it joins from this process.)
        manager.uid = secrets.token_hex(max(3, len(uid) // 2))
    if type(manager) is MemoryManager and not sio._manager_ready and manager.host is not None:
        try:
            from .adapters.workers import WorkerManager
        except ImportError as exc:  # msgpack missing: pip install siothread[workers]
            logging.getLogger("siothread").warning(
                "rooms and broadcasts stay inside each worker: %s (pip install 'siothread[workers]')", exc)
            return
        replacement = WorkerManager()
        replacement.attach(manager.host)
        replacement._store = manager._store  # connection-state recovery, when enabled
        sio.manager = manager = replacement
    sio._manager_ready = True
    manager.initialize()


def find_shutdown(app: Any) -> Optional[Callable[[float], Any]]:
    """The graceful ``shutdown(timeout)`` of a WSGI app: :class:`siothread.WSGIApp`'s, or that of
    a Flask-style app whose ``wsgi_app`` is one."""
    for target in (app, getattr(app, "wsgi_app", None)):
        shutdown = getattr(target, "shutdown", None)
        if callable(shutdown):
            return shutdown  # type: ignore[no-any-return]
    return None


class WorkerServer(Server):
    """siothread's :class:`~siothread.serving.Server` with the test-only accept scatter."""

    scatter = 0
    _accepted = 0

    def handle(self, sock: Any, address: Any) -> None:
        router = self.handoff
        if self.scatter and router is not None and not hasattr(sock, "getpeercert"):
            # the next live slot after the last one served (slots move up during a reload)
            span = 4 * self.scatter
            for _ in range(span):
                self._accepted = target = (self._accepted + 1) % span
                if target == router.slot:
                    break
                if router.connect_slot(target) is not None:
                    self._detached.add(sock)
                    router.transfer(target, sock, b"", address)
                    return
        Handler(self, sock, address).run()


class WorkerProcess:
    """Serve ``app`` on ``listeners`` (already bound sockets shared with the other workers).

    ``group`` names the set of workers that hand sessions to each other (the pid of
    the process that forked them). :meth:`start` claims a slot and starts serving;
    :meth:`stop` stops accepting, runs the app's ``shutdown(timeout)`` (sessions end
    with reason "server shutting down", their clients reconnect to the other workers)
    while hand-offs for its sessions are still received, then closes the rest.
    """

    def __init__(self, app: Any, listeners: List[Any], *, group: Any, header_timeout: float = 10.0,
                 idle_timeout: float = 30.0, environ: Optional[Dict[str, Any]] = None, log: Any = None,
                 spawn: Callable[[], Any] = lambda: "default", ssl_args: Optional[Dict[str, Any]] = None,
                 shutdown_target: Any = None) -> None:
        self.app = app
        self.servers = [
            WorkerServer(listener, app, header_timeout=header_timeout, idle_timeout=idle_timeout,
                         environ=dict(environ) if environ is not None else None, log=log, spawn=spawn(),
                         **dict(ssl_args or {}))
            for listener in listeners
        ]
        self.router = Router(str(group), self.servers[0])
        self._target = shutdown_target if shutdown_target is not None else app
        self._shutdown = find_shutdown(self._target)
        scatter = os.environ.get(SCATTER_ENV, "")
        for server in self.servers:
            server.scatter = int(scatter) if scatter.isdigit() else 0

    @property
    def slot(self) -> int:
        return self.router.slot

    def start(self) -> None:
        global _current
        self.router.start()
        for server in self.servers[1:]:
            server.handoff = self.router
            server.environ["siothread.sid_prefix"] = self.router.prefix
        _current = self
        install_worker_manager(self._target)
        for server in self.servers:
            server.start()

    def busy(self) -> bool:
        """Whether a connection is still being served."""
        return any(s.pool is not None and s.pool.free_count() != s.pool.size for s in self.servers)

    def stop(self, timeout: float) -> None:
        """Stop accepting, end the sessions gracefully within ``timeout``, then close everything."""
        global _current
        for server in self.servers:
            server.close()
        if self._shutdown is not None:
            try:
                self._shutdown(timeout)
            except Exception:  # pragma: no cover - the app's shutdown must not keep the worker alive
                import traceback
                traceback.print_exc()
        self.router.close()
        for server in self.servers:
            server.stop(timeout=1.0)
        gevent.sleep(0)
        _current = None
