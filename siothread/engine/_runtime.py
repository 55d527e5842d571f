"""The one seam between siothread and gevent (style principle 8).

Everything above the protocol layer that needs concurrency gets it from a
:class:`Runtime`: greenlets, events, queues, locks, timers and the clock. Only
this module and :mod:`siothread.wsgi` / :mod:`siothread.serving` import gevent,
so unit tests can swap in a runtime with a fake clock.
"""
from __future__ import annotations

import time
from socket import MSG_PEEK as _MSG_PEEK
from typing import Any, Callable, Optional, Tuple

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import gevent.socket
from gevent import Greenlet
from gevent.hub import Waiter
from gevent.monkey import get_original
from greenlet import getcurrent as _getcurrent

__all__ = ["Runtime", "TimerHandle", "Parking", "WriteBatch", "RUNTIME", "Greenlet"]


class _Greenlet(Greenlet):
    """gevent's Greenlet without the spawning stack.

    gevent records the spawner's stack (10 frames) for every spawn. On Python
    3.11+ walking it turns each of those frames into a frame object that stays
    alive with the frame: about 1 KiB for as long as a connection's reader
    greenlet lives, and a line-number lookup per frame per spawn. The spawn
    tree (``spawning_greenlet``, ``spawn_tree_locals``) is kept.
    """

    __slots__ = ()
    spawning_stack_limit = 0


_spawn = _Greenlet.spawn
_PlainSocket = gevent.socket.socket
#: the standard library's socket class, even after monkey-patching
_StdSocket = get_original("socket", "socket")


class TimerHandle:
    """A one-shot timer on the gevent loop; its callback runs in a fresh greenlet.

    A libev timer costs no greenlet while it waits, which is what lets every
    session own a heartbeat timer (issue: "never a new greenlet per ping").
    The callback itself runs in a greenlet because it may block (write to a
    socket, call an application handler).
    """

    __slots__ = ("_timer", "_fn", "_args", "cancelled", "_in_loop")

    def __init__(self, delay: float, fn: Callable[..., Any], args: tuple, in_loop: bool = False) -> None:
        self._fn = fn
        self._args = args
        self.cancelled = False
        self._in_loop = in_loop
        loop = gevent.get_hub().loop
        self._timer = loop.timer(max(delay, 0.0))
        self._timer.start(self._fire)

    def _fire(self) -> None:
        self._timer.close()
        if not self.cancelled:
            if self._in_loop:
                self._fn(*self._args)
            else:
                _spawn(self._fn, *self._args)

    def cancel(self) -> None:
        """Stop the timer; a no-op when it already fired or was cancelled."""
        if not self.cancelled:
            self.cancelled = True
            self._timer.stop()
            self._timer.close()


class Parking:
    """Where one greenlet idles until :meth:`wake` or a timeout, without an Event or a Timeout.

    Waking costs one loop callback and one switch (an ``Event`` adds a
    notifier, a ``Timeout`` object and a link per wait), which matters for a
    worker that parks between every two messages of a busy connection.
    """

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: Any = None

    def wait(self, timeout: float) -> bool:
        """Park the current greenlet; True when woken, False when ``timeout`` passed first."""
        hub = gevent.get_hub()
        waiter = self._waiter = Waiter(hub)
        timer = hub.loop.timer(max(timeout, 0.0))
        timer.start(waiter.switch, False)
        try:
            return bool(waiter.get())
        finally:
            timer.close()
            if self._waiter is waiter:
                self._waiter = None

    def wake(self) -> None:
        """Resume the parked greenlet soon (from the event loop); a no-op when none is parked."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.hub.loop.run_callback(waiter.switch, True)


class WriteBatch:
    """Connections with writes held back until the running greenlet yields to the event loop.

    One per hub. The first connection added in a loop pass schedules one loop
    callback; it runs when the writing greenlet blocks or ends, and calls
    ``flush_batched()`` on every connection added meanwhile. A burst of
    broadcasts to the same room (several events drained by one handler
    greenlet) then leaves as one ``send`` per recipient instead of one per
    event and recipient: the kernel's per-``send`` cost, not Python, is what a
    broadcast spends most of its time on.
    """

    __slots__ = ("_loop", "_pending")

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._pending: list = []

    @classmethod
    def current(cls) -> "WriteBatch":
        """The batch of the current thread's hub."""
        hub = gevent.get_hub()
        batch: Optional[WriteBatch] = getattr(hub, "_siothread_write_batch", None)
        if batch is None:
            batch = cls(hub.loop)
            hub._siothread_write_batch = batch
        return batch

    def add(self, connection: Any) -> None:
        """Flush ``connection`` at the end of this loop pass (add it once per pass)."""
        pending = self._pending
        pending.append(connection)
        if len(pending) == 1:
            self._loop.run_callback(self._flush)

    def _flush(self) -> None:
        pending = self._pending
        self._pending = []
        for connection in pending:
            connection.flush_batched()


def raw_socket(gsock: Any) -> Any:
    """The non-blocking OS socket under a gevent socket, or None when bytes must go
    through the wrapper (TLS: the raw socket would carry plaintext)."""
    if type(gsock) is _PlainSocket:  # the common case, without failing attribute lookups
        return gsock._sock
    if hasattr(gsock, "_sslobj") or hasattr(gsock, "getpeercert"):
        return None
    return getattr(gsock, "_sock", None)


class Runtime:
    """gevent primitives behind one object; subclass to fake the clock in tests."""

    #: the ``async_mode`` this runtime serves (:mod:`siothread.engine.modes`)
    mode = "gevent"
    Parking = Parking

    Event = gevent.event.Event
    AsyncResult = gevent.event.AsyncResult
    Queue = gevent.queue.Queue
    Empty = gevent.queue.Empty
    Lock = gevent.lock.Semaphore
    #: ``Semaphore(n)``: at most ``n`` holders at once
    Semaphore = gevent.lock.Semaphore
    RLock = gevent.lock.RLock
    Timeout = gevent.Timeout
    GreenletExit = gevent.GreenletExit

    @staticmethod
    def cannot_serve() -> Optional[str]:
        """Why the calling request cannot be served in gevent mode, or None (the common case).

        A request that runs in a greenlet below a hub (gevent's servers; any server's
        threads once gevent patched ``threading``) is fine. One that runs on an OS
        thread of a server gevent does not drive would block on a hub of its own that
        nothing else wakes: a long-poll never returns.
        """
        if _getcurrent().parent is not None:
            return None
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return None
        return ("async_mode='gevent' but the WSGI server calls the application from OS threads gevent "
                "does not drive (Werkzeug's threaded server, waitress, gunicorn gthread, uWSGI --threads, ...); "
                "long-polling would hang, so requests are refused with 500. Fix: build the Server with "
                "async_mode='threading' (async_mode=None picks it when gevent has not monkey-patched the "
                "process), or serve with gevent: `python -m siothread module:app`, gunicorn -k gevent, "
                "or gevent.monkey.patch_all() before anything else is imported")

    @staticmethod
    def guard(obj: Any, names: Any) -> None:
        """Make the named methods safe to call from any thread: nothing to do on one hub.
        (The threading runtime takes its engine lock there.)"""

    @staticmethod
    def app_code(fn: Callable[..., Any]) -> Callable[..., Any]:
        """Application code as the runtime runs it: unchanged here (the threading runtime
        releases its engine lock around it)."""
        return fn

    @staticmethod
    def wrap_socket(sock: Any) -> Any:
        """A handed-over connection, ready for the WebSocket transport: a gevent socket."""
        if type(sock) is _StdSocket:  # uWSGI's connection without monkey-patching
            return gevent.socket.socket(fileno=sock.detach())
        return sock

    @staticmethod
    def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Greenlet:
        return _spawn(fn, *args, **kwargs)

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        gevent.sleep(seconds)

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    @staticmethod
    def run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
        """Run a CPU-bound call that releases the GIL (bcrypt) on gevent's thread pool; this greenlet waits."""
        return gevent.get_hub().threadpool.apply(fn, args)

    @staticmethod
    def call_later(delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        return TimerHandle(delay, fn, args)

    @staticmethod
    def call_later_in_loop(delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Like :meth:`call_later`, but ``fn`` runs in the event loop itself, without a greenlet:
        it must never block (and should not raise). For the per-session heartbeat timers."""
        return TimerHandle(delay, fn, args, True)

    @staticmethod
    def write_batch() -> WriteBatch:
        """The current hub's :class:`WriteBatch`."""
        return WriteBatch.current()

    @staticmethod
    def getcurrent() -> Any:
        return gevent.getcurrent()

    @staticmethod
    def socket_reader(gsock: Any, prefix: bytes = b"") -> Tuple[Callable[[int], bytes], Callable[[], None]]:
        """A fast ``read(n)`` for a connection read by one greenlet, and its ``close()``.

        gevent's ``recv`` first tries the syscall, which fails with EAGAIN on nearly
        every call of a request/response loop, then waits. This reader waits for
        readiness on one long-lived watcher first, then reads once: one syscall per
        read instead of two. Every read goes through the event loop, even when the
        socket is still full: a peer that keeps sending must not keep other
        connections, their handlers and the heartbeat timers from running (a read
        is one turn). ``prefix`` is returned first (bytes a buffered reader already
        took off the socket). End the read by ``shutdown()`` of the socket, never
        ``close()`` from another greenlet.
        """
        raw = raw_socket(gsock)
        pending = [prefix] if prefix else []
        hub = gevent.get_hub()
        if raw is None:
            # TLS: the TLS layer may hold decrypted bytes while the socket is not readable,
            # so readiness cannot be waited for; a full read ends the turn on a zero timer.
            full = [False]

            def read_plain(n: int) -> bytes:
                if pending:
                    return pending.pop()
                if full[0]:
                    hub.wait(hub.loop.timer(0.0))
                data = bytes(gsock.recv(n))
                full[0] = len(data) == n
                return data
            return read_plain, lambda: None
        watcher = hub.loop.io(raw.fileno(), 1)
        recv = raw.recv
        wait = hub.wait

        def read(n: int) -> bytes:
            if pending:
                return pending.pop()
            # After a short read the buffer is almost surely empty (this saves a recv that
            # fails with EAGAIN); after a full one the loop gets its turn before we read on.
            wait(watcher)
            while True:
                try:
                    return recv(n)  # type: ignore[no-any-return]
                except (BlockingIOError, InterruptedError):
                    wait(watcher)

        return read, watcher.close

    @staticmethod
    def on_hangup(gsock: Any, callback: Callable[[], None]) -> Optional[Callable[[], None]]:
        """Call ``callback()`` from the event loop if the peer closes (or resets) ``gsock``.

        One libev watcher, no greenlet: the socket is peeked at when it turns
        readable. Data (a pipelined request) ends the watch silently. Returns the
        function that stops watching, or None when the socket cannot be peeked at
        (TLS). ``callback`` must not block.
        """
        raw = raw_socket(gsock)
        if raw is None:
            return None
        watcher = gevent.get_hub().loop.io(raw.fileno(), 1)

        def check() -> None:
            try:
                data = raw.recv(1, _MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return  # not readable after all: keep watching
            except OSError:
                data = b""
            watcher.close()
            if not data:
                callback()

        watcher.start(check)
        return watcher.close

    @staticmethod
    def joinall(greenlets: list, timeout: Optional[float] = None) -> list:
        return gevent.joinall(greenlets, timeout=timeout)

    @staticmethod
    def killall(greenlets: list, block: bool = True, timeout: Optional[float] = None) -> None:
        gevent.killall(greenlets, block=block, timeout=timeout)


RUNTIME = Runtime()
