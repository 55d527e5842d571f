"""A TCP relay in front of the cluster nodes, and the real socket.io-client in a Node process.

A client connects to the relay; :meth:`Switchboard.route` points the relay at
another node and cuts every relayed connection, so the client's next
reconnection lands on that node (what a load balancer does when a node goes
away). ``route(None)`` refuses connections: the gap in which other nodes emit.
"""
import json
import socket
import subprocess
from typing import Any, List, Optional, Set

import gevent
import gevent.server

from nodes import wait_until
from tests.conftest import JS_DIR


class Switchboard:
    def __init__(self) -> None:
        self.target: Optional[int] = None
        self._conns: Set[socket.socket] = set()
        self._server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self._server.start()
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def route(self, port: Optional[int]) -> None:
        self.target = port
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle(self, client: socket.socket, _address: Any) -> None:
        if self.target is None:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._conns.update((client, upstream))

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        other = gevent.spawn(pipe, upstream, client)
        pipe(client, upstream)
        other.join()
        for s in (client, upstream):
            self._conns.discard(s)
            s.close()

    def close(self) -> None:
        self.route(None)
        self._server.stop(timeout=1)


class JsClient:
    """``tests/js/streams_client.js``: socket.io-client 4.8 that prints what it sees, one JSON line each."""

    def __init__(self, url: str, name: str) -> None:
        self.proc = subprocess.Popen(["node", str(JS_DIR / "streams_client.js"), url, name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.seen: List[Any] = []
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.seen.append(json.loads(line))

    def send(self, *args: Any) -> None:
        self.proc.stdin.write(json.dumps(list(args)) + "\n")
        self.proc.stdin.flush()

    def connects(self) -> List[Any]:
        return [s for s in self.seen if s[0] == "connect"]

    def events(self, name: str) -> List[Any]:
        return [s[2:] for s in self.seen if s[0] == "event" and s[1] == name]

    def wait_connects(self, n: int, timeout: float = 10) -> Any:
        return wait_until(lambda: len(self.connects()) >= n and self.connects()[n - 1], timeout,
                          f"socket.io-client never connected {n} time(s): {self.seen}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._reader.kill()
