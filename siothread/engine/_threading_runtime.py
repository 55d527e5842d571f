"""The threading runtime: :class:`~siothread.engine._runtime.Runtime`'s interface on OS threads.

For WSGI servers that run each request in an OS thread without gevent's
monkey-patching (Werkzeug, waitress, gunicorn ``gthread``, uWSGI ``--threads``).
No gevent hub is involved.

Theory of operation
-------------------
The engine and the Socket.IO server were written for cooperative scheduling:
code between two blocking calls runs without interruption, so a session's
state, its outbound queue and the socket's inbox need no locks. This runtime
keeps that contract with one re-entrant *engine lock* that plays the part of
the gevent hub: a thread runs siothread code only while it holds the lock, and
every blocking call of the runtime (a parked GET, an event or ack wait,
``sleep``, a socket read or a full socket write, a join) releases it while it
blocks. The rest runs in parallel:

- application code: handlers, middlewares and callbacks are wrapped at
  registration (:meth:`ThreadingRuntime.app_code`) to release the lock while
  they run, so a handler may block (a database call, ``time.sleep``) without
  stopping the server, as in python-socketio's threading mode;
- the public API (``sio.emit`` from a handler, a background task, a Flask view
  or any thread of the application) takes the lock on entry
  (:meth:`ThreadingRuntime.guard`);
- WSGI servers write responses after the application returned, outside the lock.

Timers live on one scheduler thread (a heap), not a thread each: a session's
heartbeat costs a heap entry. ``call_later`` callbacks, which may block, get a
thread of their own; ``call_later_in_loop`` callbacks run on the scheduler
thread. Sockets handed over for a WebSocket are made non-blocking, so a write
never blocks while the lock is held; a reader waits in ``poll()`` without it.

The engine lock lives in :mod:`._threading_lock`; the socket wrapper and the
hang-up watcher of parked long-polls in :mod:`._threading_io`.

Threads cannot be killed: :meth:`_Task.kill` marks a task, and the task's next
:meth:`ThreadingRuntime.sleep` raises :class:`TaskExit` (background tasks loop
on ``sio.sleep``, so ``shutdown()`` still ends them).
"""
from __future__ import annotations

import heapq
import itertools
import queue
import socket
import ssl
import sys
import threading
import time
from functools import wraps
from typing import Any, Callable, Iterable, List, Optional, Tuple

from ._threading_io import HangupWatcher, ThreadSocket
from ._threading_lock import LOCK as _LOCK
from ._threading_lock import local as _local
from ._threading_lock import log as _log
from ._threading_lock import release as _release
from ._threading_lock import restore as _restore
from ._threading_lock import unlocked

__all__ = ["ThreadingRuntime", "THREADING_RUNTIME", "TaskExit"]

class TaskExit(BaseException):
    """Raised in a killed task at its next ``sleep`` (gevent's ``GreenletExit``)."""


class _Task(threading.Thread):
    """A spawned function on its own daemon thread, with the greenlet methods the server uses."""

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, locked: bool) -> None:
        super().__init__(daemon=True, name=f"siothread-{getattr(fn, '__name__', 'task')}")
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._locked = locked
        self._links: List[Callable[[Any], None]] = []
        self.killed = threading.Event()

    def run(self) -> None:
        if self._locked:
            _LOCK.acquire()
        try:
            self._fn(*self._args, **self._kwargs)
        except TaskExit:
            pass
        except Exception:
            _log.exception("uncaught exception in %s", self.name)
        finally:
            links, self._links = self._links, []
            for link in links:
                try:
                    link(self)
                except Exception:  # pragma: no cover - links are the server's own bookkeeping
                    _log.exception("task link failed")
            if self._locked:
                _LOCK.release()
            self._fn = self._args = self._kwargs = None  # type: ignore[assignment]

    @property
    def dead(self) -> bool:
        return not self.is_alive()

    def rawlink(self, callback: Callable[[Any], None]) -> None:
        self._links.append(callback)

    def kill(self, block: bool = True, timeout: Optional[float] = None) -> None:
        self.killed.set()
        if block and self is not threading.current_thread():
            self.join(timeout)

    def join(self, timeout: Optional[float] = None) -> None:
        if not self._started.is_set():  # type: ignore[attr-defined]
            return
        with unlocked():
            super().join(timeout)


class TimerHandle:
    """One entry on the scheduler's heap."""

    __slots__ = ("due", "fn", "args", "in_loop", "cancelled", "scheduler")

    def __init__(self, due: float, fn: Callable[..., Any], args: tuple, in_loop: bool,
                 scheduler: "_Scheduler") -> None:
        self.due = due
        self.fn = fn
        self.args = args
        self.in_loop = in_loop
        self.cancelled = False
        #: set while the timer is pending (None once fired or cancelled)
        self.scheduler: Optional[_Scheduler] = scheduler

    def cancel(self) -> None:
        """Stop the timer; a no-op when it already fired or was cancelled."""
        if not self.cancelled:
            self.cancelled = True
            self.fn = self.args = None  # type: ignore[assignment]
            scheduler = self.scheduler
            if scheduler is not None:
                scheduler.discard(self)


class _Scheduler:
    """One daemon thread firing every timer of the process, in due order.

    The thread exists only while a timer is pending: when the last one fires or is
    cancelled, the heap is cleared (cancelled entries are left in it until then)
    and the thread ends; the next timer starts a new one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: List[Tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._live = 0
        self._running = False

    def add(self, delay: float, fn: Callable[..., Any], args: tuple, in_loop: bool) -> TimerHandle:
        handle = TimerHandle(time.monotonic() + max(delay, 0.0), fn, args, in_loop, self)
        with self._cond:
            heapq.heappush(self._heap, (handle.due, next(self._seq), handle))
            self._live += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="siothread-timers", daemon=True).start()
            elif self._heap[0][2] is handle:
                self._cond.notify()
        return handle

    def discard(self, handle: TimerHandle) -> None:
        with self._cond:
            if handle.scheduler is None:
                return  # fired meanwhile
            handle.scheduler = None
            self._live -= 1
            if not self._live:
                self._heap.clear()
                self._cond.notify()

    def _due(self) -> Optional[List[TimerHandle]]:
        """The timers due now (waits for them); None when none is pending (the thread ends)."""
        with self._cond:
            while True:
                if not self._live:
                    self._running = False
                    return None
                heap = self._heap
                now = time.monotonic()
                if heap[0][0] <= now:
                    out = []
                    while heap and heap[0][0] <= now:
                        handle = heapq.heappop(heap)[2]
                        if handle.scheduler is not None:
                            handle.scheduler = None
                            self._live -= 1
                            out.append(handle)
                    return out
                self._cond.wait(heap[0][0] - now)

    def _run(self) -> None:
        while True:
            due = self._due()
            if due is None:
                return
            with _LOCK:
                for handle in due:
                    if handle.cancelled:
                        continue
                    fn, args = handle.fn, handle.args
                    handle.cancel()  # fired: the references go
                    if handle.in_loop:
                        try:
                            fn(*args)
                        except Exception:
                            _log.exception("timer callback failed")
                    else:
                        _Task(fn, args, {}, True).start()


class Parking:
    """Where one thread idles until :meth:`wake` or a timeout.

    As in the gevent version, a wake-up while nobody is parked is not remembered:
    the caller checks for work and parks while holding the engine lock, and
    :meth:`wait` arms itself before it releases the lock, so a thread that queues
    work (under the lock) after the check finds it armed and wakes it.
    """

    __slots__ = ("_cond", "_armed", "_woken")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._armed = False
        self._woken = False

    def wait(self, timeout: float) -> bool:
        with self._cond:
            self._armed = True
            self._woken = False
        state = _release()
        try:
            with self._cond:
                if not self._woken:
                    self._cond.wait(max(timeout, 0.0))
                woken = self._woken
                self._armed = self._woken = False
        finally:
            _restore(state)
        return woken

    def wake(self) -> None:
        with self._cond:
            if self._armed:
                self._woken = True
                self._cond.notify()


class Event:
    """``threading.Event`` whose ``wait`` releases the engine lock."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    ready = is_set

    def wait(self, timeout: Optional[float] = None) -> bool:
        if self._event.is_set():
            return True
        with unlocked():
            return self._event.wait(timeout)


class AsyncResult:
    """A value or an exception, set once by one thread and waited for by another."""

    __slots__ = ("_event", "_value", "_exc")

    def __init__(self) -> None:
        self._event = Event()
        self._value: Any = None
        self._exc: Optional[BaseException] = None

    def ready(self) -> bool:
        return self._event.is_set()

    def set(self, value: Any = None) -> None:
        self._value = value
        self._event.set()

    def set_exception(self, exc: BaseException) -> None:
        self._exc = exc
        self._event.set()

    def wait(self, timeout: Optional[float] = None) -> Any:
        self._event.wait(timeout)
        return self._value

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        if not self._event.wait(timeout if block else 0):
            raise socket.timeout("timed out")
        if self._exc is not None:
            raise self._exc
        return self._value


class Queue(queue.Queue):  # type: ignore[type-arg]
    """``queue.Queue`` whose blocking ``get`` and ``put`` release the engine lock."""

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        with unlocked():
            return super().get(block, timeout)

    def put(self, item: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        with unlocked():
            super().put(item, block, timeout)


class Timeout:
    """``with Timeout(seconds, exception):`` a blocking section whose socket waits end at a deadline.

    The engine uses it around pure I/O only (reading a request body, discarding what
    a peer still sends), so the block runs without the engine lock: a slow body
    holds its own request thread, never the server. A thread cannot be interrupted:
    the deadline bounds the waits of this runtime's sockets (:class:`ThreadSocket`),
    which then raise ``socket.timeout``, leaving the block as ``exception``
    (``False``: quietly). Reads by the WSGI server itself (a request body) are
    bounded by that server's own timeouts.
    """

    def __init__(self, seconds: Optional[float] = None, exception: Any = None) -> None:
        self.seconds = seconds
        self.exception = exception
        self._previous: Optional[float] = None
        self._state: Any = None

    def __enter__(self) -> "Timeout":
        self._previous = getattr(_local, "deadline", None)
        if self.seconds is not None:
            deadline = time.monotonic() + self.seconds
            if self._previous is not None:
                deadline = min(deadline, self._previous)
            _local.deadline = deadline
        self._state = _release()
        return self

    def __exit__(self, typ: Any, exc: Any, tb: Any) -> bool:
        _restore(self._state)
        _local.deadline = self._previous
        if typ is not None and issubclass(typ, socket.timeout) and exc is not None and exc.args == ("deadline",):
            if self.exception is False:
                return True
            if isinstance(self.exception, type) and issubclass(self.exception, BaseException):
                raise self.exception()
        return False


class _ImmediateWrites:
    """The write batch of this runtime: there is no loop pass to wait for, a write goes out now."""

    __slots__ = ()

    @staticmethod
    def add(connection: Any) -> None:
        connection.flush_batched()


_IMMEDIATE = _ImmediateWrites()


class _Semaphore:
    """``threading.Semaphore`` whose wait does not hold the engine lock (a blocking call)."""

    __slots__ = ("_sem",)

    def __init__(self, value: int) -> None:
        self._sem = threading.Semaphore(value)

    def __enter__(self) -> "_Semaphore":
        with unlocked():
            self._sem.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sem.release()


class ThreadingRuntime:
    """OS threads behind :class:`~siothread.engine._runtime.Runtime`'s interface."""

    mode = "threading"

    Parking = Parking
    Event = Event
    AsyncResult = AsyncResult
    Queue = Queue
    Empty = queue.Empty
    Timeout = Timeout
    GreenletExit = TaskExit

    def __init__(self) -> None:
        self._scheduler = _Scheduler()
        self._hangups = HangupWatcher()

    @staticmethod
    def Lock() -> Any:  # noqa: N802 - the interface's name
        return threading.Lock()

    @staticmethod
    def RLock() -> Any:  # noqa: N802
        return threading.RLock()

    @staticmethod
    def Semaphore(value: int = 1) -> "_Semaphore":  # noqa: N802
        return _Semaphore(value)

    @staticmethod
    def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
        """A CPU-bound call that releases the GIL (bcrypt): already on an OS thread, so it runs
        here, without the engine lock."""
        with unlocked():
            return fn(*args)

    @staticmethod
    def cannot_serve() -> Optional[str]:
        """Why the calling request cannot be served on threads, or None (the common case)."""
        if "gevent" not in sys.modules:
            return None
        import greenlet

        if greenlet.getcurrent().parent is None:
            return None  # an OS thread's own stack
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            return None  # threads are greenlets: these primitives cooperate
        return ("async_mode='threading' but the request runs in a gevent greenlet (siothread.serve, "
                "gunicorn -k gevent, uWSGI --gevent) and gevent has not monkey-patched threading: every "
                "wait would block the whole server, so requests are refused with 500. Fix: build the Server "
                "with async_mode='gevent' (or 'gevent_uwsgi' under uWSGI), or async_mode=None after "
                "gevent.monkey.patch_all()")

    # -- the engine lock -------------------------------------------------------------
    @staticmethod
    def guard(obj: Any, names: Iterable[str]) -> None:
        """Make each named method of ``obj`` take the engine lock on entry (public API)."""
        for name in names:
            method = getattr(obj, name, None)
            if callable(method):
                setattr(obj, name, _guarded(method))

    @staticmethod
    def app_code(fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (application code) made to run without the engine lock."""
        if getattr(fn, "_siothread_unlocked", False):
            return fn

        @wraps(fn)
        def run_unlocked(*args: Any, **kwargs: Any) -> Any:
            state = _release()
            try:
                return fn(*args, **kwargs)
            finally:
                _restore(state)

        run_unlocked._siothread_unlocked = True  # type: ignore[attr-defined]
        return run_unlocked

    # -- tasks -------------------------------------------------------------------------
    @staticmethod
    def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Task:
        task = _Task(fn, args, kwargs, True)
        task.start()
        return task

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        current = threading.current_thread()
        killed = getattr(current, "killed", None)
        with unlocked():
            if killed is None:
                time.sleep(seconds)
            elif killed.wait(seconds):
                raise TaskExit()

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self._scheduler.add(delay, fn, args, False)

    def call_later_in_loop(self, delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return self._scheduler.add(delay, fn, args, True)

    @staticmethod
    def write_batch() -> _ImmediateWrites:
        return _IMMEDIATE

    @staticmethod
    def getcurrent() -> Any:
        return threading.current_thread()

    @staticmethod
    def joinall(tasks: list, timeout: Optional[float] = None) -> list:
        deadline = None if timeout is None else time.monotonic() + timeout
        for task in tasks:
            task.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return [t for t in tasks if t.dead]

    @staticmethod
    def killall(tasks: list, block: bool = True, timeout: Optional[float] = None) -> None:
        for task in tasks:
            task.killed.set()
        if block:
            ThreadingRuntime.joinall(tasks, timeout)

    # -- sockets -----------------------------------------------------------------------
    @staticmethod
    def wrap_socket(sock: Any) -> Any:
        """A handed-over connection, ready for the WebSocket transport."""
        return sock if isinstance(sock, ThreadSocket) else ThreadSocket(sock)

    @staticmethod
    def socket_reader(sock: Any, prefix: bytes = b"") -> Tuple[Callable[[int], bytes], Callable[[], None]]:
        pending = [prefix] if prefix else []
        recv = sock.recv

        def read(n: int) -> bytes:
            if pending:
                return pending.pop()
            return recv(n)  # type: ignore[no-any-return]

        return read, lambda: None

    def on_hangup(self, sock: Any, callback: Callable[[], None]) -> Optional[Callable[[], None]]:
        """Call ``callback()`` (with the engine lock) if the peer closes ``sock``; see
        :class:`~._threading_io.HangupWatcher`. Returns the function that stops watching, or None (TLS)."""
        if isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "fileno"):
            return None
        return self._hangups.watch(sock, callback)


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked


THREADING_RUNTIME = ThreadingRuntime()
