"""SimpleClient: a blocking, handler-free client (python-socketio ``socketio.SimpleClient``).

Events from the server are queued and read in order with :meth:`SimpleClient.receive`.
While the connection is being re-established, :meth:`~SimpleClient.emit`,
:meth:`~SimpleClient.call` and :meth:`~SimpleClient.receive` wait for it (within
their timeout); once the client has given up they raise
:class:`~siothread.errors.DisconnectedError`.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Sequence, Union

from ..errors import DisconnectedError, TimeoutError
from .client import Client

__all__ = ["SimpleClient"]


class SimpleClient:
    """Connect to one namespace, emit, call and receive, without handlers.

    Takes the keyword arguments of :class:`~siothread.client.Client`.

    Usage::

        with SimpleClient() as sc:
            sc.connect("http://127.0.0.1:5000")
            sc.emit("join", {"name": "ann"})
            event, *args = sc.receive(timeout=5)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client_args = args
        self.client_kwargs = kwargs
        self.client: Optional[Client] = None
        self.namespace = "/"
        self._cond = threading.Condition()
        self._input: Deque[List[Any]] = collections.deque()
        self._connected = False
        self._gone = False

    def connect(
        self,
        url: str,
        headers: Optional[Dict[str, str]] = None,
        auth: Any = None,
        transports: Optional[Union[str, Sequence[str]]] = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connect to ``namespace`` of the server at ``url``.

        Raises:
            RuntimeError: already connected.
            ConnectionError: as :meth:`Client.connect`.
        """
        if self.client is not None and self.client.connected:
            raise RuntimeError("already connected")
        self.namespace = namespace
        with self._cond:
            self._input.clear()
            self._connected = False
            self._gone = False
        client = Client(*self.client_args, **self.client_kwargs)
        self.client = client

        def on_connect() -> None:
            with self._cond:
                self._connected = True
                self._cond.notify_all()

        def on_disconnect(reason: str) -> None:
            with self._cond:
                self._connected = False
                self._cond.notify_all()

        def on_any(event: str, *args: Any) -> None:
            with self._cond:
                self._input.append([event, *args])
                self._cond.notify_all()

        client.on("connect", on_connect, namespace=namespace)
        client.on("disconnect", on_disconnect, namespace=namespace)
        client.on("*", on_any, namespace=namespace)
        client.connect(url, headers=headers, auth=auth, transports=transports,
                       namespaces=[namespace], socketio_path=socketio_path,
                       wait_timeout=wait_timeout)
        threading.Thread(target=self._watch, args=(client,), daemon=True,
                         name="siothread-simpleclient-watch").start()

    def _watch(self, client: Client) -> None:
        # The client is idle once disconnected for good (reconnection given up).
        client._idle.wait()
        with self._cond:
            if client is self.client:
                self._gone = True
                self._connected = False
            self._cond.notify_all()

    @property
    def sid(self) -> Optional[str]:
        """The session id in the namespace, ``None`` when not connected."""
        return self.client.get_sid(self.namespace) if self.client is not None else None

    @property
    def transport(self) -> Optional[str]:
        """``'websocket'`` or ``'polling'``."""
        return self.client.transport() if self.client is not None else None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def _wait_connected(self, deadline: Optional[float]) -> Client:
        with self._cond:
            while True:
                client = self.client
                if client is None or self._gone:
                    raise DisconnectedError("not connected")
                if self._connected and client.connected:
                    return client
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("not reconnected in time")
                self._cond.wait(remaining)

    def emit(self, event: str, data: Any = None) -> None:
        """Emit ``event``; waits for a reconnection in progress.

        Raises:
            DisconnectedError: the client is disconnected for good.
        """
        while True:
            client = self._wait_connected(None)
            try:
                client.emit(event, data, namespace=self.namespace)
                return
            except DisconnectedError:
                continue  # lost between the check and the send: wait again

    def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Emit ``event`` and return the acknowledgement (see :meth:`Client.call`).

        Raises:
            TimeoutError: no connection or no acknowledgement within ``timeout``.
            DisconnectedError: disconnected for good, or the connection was lost
                while waiting.
        """
        deadline = time.monotonic() + timeout
        client = self._wait_connected(deadline)
        return client.call(event, data, namespace=self.namespace,
                           timeout=max(0.0, deadline - time.monotonic()))

    def receive(self, timeout: Optional[float] = None) -> List[Any]:
        """The next event from the server as ``[event, *args]``, in arrival order.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            DisconnectedError: disconnected for good and nothing left to read.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._input:
                if self.client is None or self._gone:
                    raise DisconnectedError("not connected")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no event received in time")
                self._cond.wait(remaining)
            return self._input.popleft()

    def disconnect(self) -> None:
        """Disconnect; idempotent."""
        client = self.client
        if client is not None:
            client.disconnect()
        with self._cond:
            self._gone = True
            self._connected = False
            self._cond.notify_all()

    def __enter__(self) -> "SimpleClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()
