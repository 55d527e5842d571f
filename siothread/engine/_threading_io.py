"""Sockets under the threading runtime: handed-over connections and the hang-up watcher.

Waits happen in ``poll()`` without the engine lock (:mod:`._threading_lock`).
"""
from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from typing import Any, Callable, Optional, Tuple

from ._threading_lock import LOCK as _LOCK
from ._threading_lock import local as _local
from ._threading_lock import unlocked

__all__ = ["ThreadSocket", "HangupWatcher"]


def _wait_fd(fd: int, events: int) -> None:
    """Wait until ``fd`` is ready for ``events``, without the engine lock; honours :class:`Timeout`."""
    deadline = getattr(_local, "deadline", None)
    poller = select.poll()
    poller.register(fd, events)
    with unlocked():
        if deadline is None:
            ready = poller.poll()
        else:
            ready = poller.poll(max(0.0, deadline - time.monotonic()) * 1000.0)
    if not ready:
        raise socket.timeout("deadline")


class ThreadSocket:
    """A handed-over connection: non-blocking underneath, waits in ``poll()`` without the lock.

    ``_sock`` is the non-blocking socket the WebSocket write path sends on directly
    (a send that never blocks). A TLS socket stays blocking, has no ``_sock`` (its
    bytes must go through the TLS layer) and releases the lock around each call.
    """

    def __init__(self, sock: Any) -> None:
        self._s = sock
        self._tls = isinstance(sock, ssl.SSLSocket)
        if not self._tls:
            sock.setblocking(False)
            self._sock = sock

    def fileno(self) -> int:
        return self._s.fileno()  # type: ignore[no-any-return]

    def recv(self, n: int) -> bytes:
        if self._tls:
            with unlocked():
                return self._s.recv(n)  # type: ignore[no-any-return]
        while True:
            try:
                return self._s.recv(n)  # type: ignore[no-any-return]
            except (BlockingIOError, InterruptedError):
                _wait_fd(self._s.fileno(), select.POLLIN)

    def send(self, data: Any) -> int:
        return self._s.send(data)  # type: ignore[no-any-return]

    def sendall(self, data: Any) -> None:
        if self._tls:
            with unlocked():
                self._s.sendall(data)
            return
        view = memoryview(data)
        while view:
            try:
                view = view[self._s.send(view):]
            except (BlockingIOError, InterruptedError):
                _wait_fd(self._s.fileno(), select.POLLOUT)

    def shutdown(self, how: int) -> None:
        self._s.shutdown(how)

    def close(self) -> None:
        self._s.close()

    def settimeout(self, value: Optional[float]) -> None:
        """Liveness is the heartbeat's job; the socket stays as this class set it."""

    def gettimeout(self) -> Optional[float]:
        return None

    def restore_blocking(self) -> None:
        """Give the socket back to its server the way it came (blocking)."""
        if not self._tls:
            try:
                self._s.setblocking(True)
            except OSError:
                pass


class HangupWatcher:
    """One thread watching the connections of parked long-polls for the client leaving.

    A readable socket is peeked at: EOF or a reset calls the callback; data (a
    pipelined request) ends the watch quietly. The thread (and its wake-up socket
    pair) exists only while something is watched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict = {}  # fd -> (socket, callback)
        self._wakeup: Optional[Tuple[Any, Any]] = None

    def watch(self, sock: Any, callback: Callable[[], None]) -> Callable[[], None]:
        fd = sock.fileno()
        entry = (sock, callback)
        with self._lock:
            self._watched[fd] = entry
            if self._wakeup is None:
                self._wakeup = socket.socketpair()
                self._wakeup[0].setblocking(False)
                threading.Thread(target=self._run, args=(self._wakeup,), name="siothread-hangups",
                                 daemon=True).start()
            else:
                self._kick()

        def stop() -> None:
            with self._lock:
                if self._watched.get(fd) is entry:
                    del self._watched[fd]
                    self._kick()

        return stop

    def _kick(self) -> None:
        """Make the thread look at the watched set again (called with ``_lock`` held)."""
        if self._wakeup is not None:
            try:
                self._wakeup[1].send(b"x")
            except OSError:  # pragma: no cover - the buffer is full: a wake-up is pending anyway
                pass

    def _run(self, pair: Tuple[Any, Any]) -> None:
        reader = pair[0]
        wakeup = reader.fileno()
        while True:
            with self._lock:
                if not self._watched:
                    self._wakeup = None
                    for s in pair:
                        s.close()
                    return
                watched = dict(self._watched)
            poller = select.poll()
            poller.register(wakeup, select.POLLIN)
            for fd in watched:
                poller.register(fd, select.POLLIN)
            for fd, _ in poller.poll():
                if fd == wakeup:
                    try:
                        reader.recv(4096)
                    except OSError:
                        pass
                    continue
                entry = watched[fd]
                try:
                    data = entry[0].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                with self._lock:
                    if self._watched.get(fd) is not entry:
                        continue
                    del self._watched[fd]
                if not data:
                    with _LOCK:
                        entry[1]()
