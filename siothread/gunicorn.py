"""A gunicorn worker running siothread's HTTP/1.1 server: ``gunicorn -k siothread.gunicorn.Worker -w 4 app:app``.

Each worker serves with :mod:`siothread.serving` (header, body and idle timeouts,
caps, TLS handling, WebSocket takeover) on gevent, and the workers hand sessions
to each other (:mod:`siothread.handoff`), so that ``-w N`` needs no sticky load
balancer: a polling request or WebSocket upgrade reaching the wrong worker is
passed to the one that holds its session.

gunicorn's process model is kept:

- heartbeat: the worker calls ``notify()`` every second, and stops (gracefully)
  when its master went away;
- ``SIGTERM`` (what the master sends on ``HUP`` reloads, scale-downs and shutdown):
  stop accepting, run the application's ``shutdown(graceful_timeout)``
  (:meth:`siothread.WSGIApp.shutdown`: sessions end with reason "server shutting
  down" and their clients reconnect to the other workers), wait for the last
  requests until ``--graceful-timeout``, exit; ``SIGQUIT``/``SIGINT``: exit at once;
- ``--max-requests``: counts the requests that do not belong to an existing session
  (handshakes and the rest of the site, not a session's polls), so that a busy
  polling session does not recycle its worker; past the limit the worker stops
  gracefully as above and the master starts a fresh one;
- ``--preload``: the application is loaded in the master; a Redis adapter that joined
  its cluster there leaves before each fork and joins from every worker instead;
- ``--keep-alive`` is the idle time allowed between two requests of a connection;
  ``--worker-connections`` caps the connections of one worker; ``--certfile`` /
  ``--keyfile`` serve TLS (a TLS request for another worker's session is relayed).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterable, List

import gevent
from gevent import hub, monkey
from gevent.pool import Pool

from gunicorn.http.wsgi import base_environ
from gunicorn.sock import ssl_context
from gunicorn.workers.base import Worker as _BaseWorker

__all__ = ["Worker"]


class Worker(_BaseWorker):  # type: ignore[misc]
    """gunicorn worker class ``siothread.gunicorn.Worker``."""

    sockets: List[Any]
    alive: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made in the master right before it forks this worker. With --preload the application
        # was loaded in the master: its Redis adapter leaves the cluster there, and each worker
        # joins as a node of its own (siothread.adapters.forking).
        preloaded = getattr(self.app, "callable", None)
        if preloaded is not None:
            from .workerproc import release_before_fork

            release_before_fork(preloaded)

    def init_process(self) -> None:
        monkey.patch_all()
        from gevent import socket

        # gevent sockets over the listeners the master opened (as gunicorn's gevent worker does)
        self.sockets = [socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]
        hub.reinit()
        super().init_process()

    # -- signals: blocking work moves out of the signal handler (as in gunicorn's gevent worker)
    def handle_quit(self, sig: int, frame: Any) -> None:
        gevent.spawn(super().handle_quit, sig, frame)

    def handle_usr1(self, sig: int, frame: Any) -> None:
        gevent.spawn(super().handle_usr1, sig, frame)

    # -- the run loop
    def run(self) -> None:
        from .workerproc import WorkerProcess

        cfg = self.cfg
        environ = base_environ(cfg)
        environ.update({"wsgi.multithread": True, "SERVER_SOFTWARE": "siothread gunicorn"})
        ssl_args = {"ssl_context": ssl_context(cfg)} if cfg.is_ssl else {}
        connections = self.worker_connections
        proc = WorkerProcess(
            self._counted(self.wsgi), self.sockets, group=self.ppid,
            idle_timeout=float(cfg.keepalive), environ=environ, log=None,
            spawn=lambda: Pool(connections), ssl_args=ssl_args, shutdown_target=self.wsgi)
        proc.start()
        self.log.info("siothread worker %s holds slot %d", self.pid, proc.slot)
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            gevent.sleep(1.0)
        started = time.monotonic()
        grace = float(cfg.graceful_timeout)
        stopper = gevent.spawn(proc.stop, grace)
        while not stopper.dead:  # the master must keep hearing from us while sessions end
            self.notify()
            stopper.join(timeout=1.0)
        while proc.busy() and time.monotonic() - started < grace:
            self.notify()
            gevent.sleep(0.5)

    @property
    def worker_connections(self) -> int:
        return int(self.cfg.worker_connections)

    def _counted(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """``app``, counting the requests that are not part of an existing session for ``--max-requests``."""
        def counted(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if "sid=" not in environ.get("QUERY_STRING", ""):
                self.nr += 1
                if self.nr >= self.max_requests and self.alive:
                    self.log.info("Autorestarting worker after current request.")
                    self.alive = False
            return app(environ, start_response)  # type: ignore[no-any-return]

        return counted
