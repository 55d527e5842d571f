"""``siothread.serve(app, workers=N)``: a pre-fork of siothread's own server, without gunicorn.

The master binds the listening socket, forks ``N`` workers that share it (each a
:class:`siothread.workerproc.WorkerProcess`: they hand sessions to each other, so
no sticky load balancer is needed) and supervises them:

- a worker that dies is replaced at once (with a short back-off when workers die
  right after starting, so a broken application does not fork in a tight loop);
- ``SIGHUP``: graceful reload: a new set of workers starts, then the old ones stop
  gracefully (their sessions end with reason "server shutting down" and the
  clients reconnect to the new workers);
- ``SIGTERM``/``SIGINT``: every worker stops gracefully within ``shutdown_timeout``
  (the application's ``shutdown(timeout)`` runs in each); one still alive a few
  seconds later is killed;
- a worker whose master went away stops by itself.

The application object is created before the fork and used by every worker, each
with its own copy. A cluster adapter (Redis) that joined when the server was made
leaves before the first fork, and each worker joins as a node of its own
(:mod:`siothread.adapters.forking`). Start background tasks from handlers or ``connect`` (in a
worker), not before calling ``serve``: a greenlet spawned in the master before the
fork would start in every worker.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import Any, Dict, Optional

__all__ = ["serve_workers"]

#: a worker that dies sooner than this after its start delays the next start
_MIN_LIFETIME = 1.0
#: how long the master waits for workers beyond ``shutdown_timeout`` before SIGKILL
_KILL_GRACE = 5.0


def serve_workers(app: Any, host: str = "127.0.0.1", port: int = 5000, *, workers: int = 2,
                  shutdown_timeout: float = 10.0, header_timeout: float = 10.0, idle_timeout: float = 30.0,
                  log: Any = None, backlog: Optional[int] = None, **ssl_args: Any) -> None:
    """Serve ``app`` with ``workers`` processes until SIGINT/SIGTERM (see the module docstring)."""
    from .serving import _tls_context_args

    if workers < 1:
        raise ValueError("workers must be at least 1")
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(backlog or 1024)
    options = dict(header_timeout=header_timeout, idle_timeout=idle_timeout,
                   log=log if log != "default" else sys.stderr, ssl_args=_tls_context_args(dict(ssl_args)))
    master = _Master(app, listener, workers, shutdown_timeout, options)
    scheme = "https" if options["ssl_args"] else "http"
    print(f"siothread serving on {scheme}://{host}:{listener.getsockname()[1]} with {workers} workers",
          file=sys.stderr, flush=True)
    try:
        master.run()
    finally:
        listener.close()


class _Master:
    def __init__(self, app: Any, listener: socket.socket, workers: int, shutdown_timeout: float,
                 options: Dict[str, Any]) -> None:
        self.app = app
        self.listener = listener
        self.workers = workers
        self.shutdown_timeout = shutdown_timeout
        self.options = options
        self.pid = os.getpid()
        #: worker pid -> when it started
        self.children: Dict[int, float] = {}
        self.stopping = False
        self.reloading = False
        self._next_start = 0.0

    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            while not self.stopping:
                self._reap()
                if self.reloading:
                    self.reloading = False
                    old = list(self.children)
                    for _ in range(self.workers):
                        self._spawn()
                    for pid in old:
                        self._kill(pid, signal.SIGTERM)
                while len(self.children) < self.workers and time.monotonic() >= self._next_start:
                    self._spawn()
                time.sleep(0.1)
            self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: Any) -> None:
        if sig == signal.SIGHUP:
            self.reloading = True
        else:
            self.stopping = True

    def _reap(self) -> None:
        while self.children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            started = self.children.pop(pid, None)
            if started is not None and time.monotonic() - started < _MIN_LIFETIME:
                self._next_start = time.monotonic() + _MIN_LIFETIME

    def _kill(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _stop_all(self) -> None:
        for pid in list(self.children):
            self._kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + _KILL_GRACE
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.children):
            self._kill(pid, signal.SIGKILL)
        while self.children:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children.pop(pid, None)

    def _spawn(self) -> None:
        # The application was created here: a Redis adapter joined its cluster from this process,
        # which serves no client. It leaves before the fork; each worker joins as a node of its own.
        from .workerproc import release_before_fork

        release_before_fork(self.app)
        pid = os.fork()
        if pid:
            self.children[pid] = time.monotonic()
            return
        code = 1
        try:
            code = _worker_main(self.app, self.listener, self.pid, self.shutdown_timeout, self.options)
        except BaseException:  # pragma: no cover - reported, and the master starts another
            import traceback
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)


def _worker_main(app: Any, listener: socket.socket, master: int, shutdown_timeout: float,
                 options: Dict[str, Any]) -> int:
    """The body of one forked worker; returns its exit code."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    import gevent
    import gevent.event
    from gevent import socket as gsocket

    from .workerproc import WorkerProcess

    gevent.reinit()
    sock = gsocket.socket(listener.family, socket.SOCK_STREAM, fileno=os.dup(listener.fileno()))
    listener.close()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    proc = WorkerProcess(app, [sock], group=master, **options)
    proc.start()
    while not stop.wait(1.0):
        if os.getppid() != master:
            break
    proc.stop(shutdown_timeout)
    return 0
