"""Cluster nodes in their own processes (siothread's ``redis_node.py``, Node's ``redis_node.js``)."""
import contextlib
import json
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import gevent
import gevent.event

from tests.conftest import JS_DIR

HERE = Path(__file__).resolve().parent


class NodeProcess:
    """One cluster node; ``request(op, ...)`` runs a command in it and returns the result."""

    def __init__(self, kind: str, options: Dict[str, Any]) -> None:
        if kind == "py":
            cmd = [sys.executable, str(HERE / "redis_node.py"), json.dumps(options)]
        else:
            cmd = ["node", str(JS_DIR / "redis_node.js"), json.dumps(options)]
        self.kind = kind
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self._ids = count(1)
        self._waiting: Dict[int, gevent.event.AsyncResult] = {}
        with gevent.Timeout(20, AssertionError(f"{kind} node did not start")):
            line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"{kind} node failed: {self.proc.stderr.read()}")
        self.port = json.loads(line)["port"]
        self.url = f"http://127.0.0.1:{self.port}"
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        for line in self.proc.stdout:
            reply = json.loads(line)
            waiter = self._waiting.pop(reply["id"], None)
            if waiter is not None:
                waiter.set(reply)

    def request(self, op: str, timeout: float = 15, **args: Any) -> Any:
        rid = next(self._ids)
        waiter = self._waiting[rid] = gevent.event.AsyncResult()
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply = waiter.get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{self.kind} node: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        self._reader.kill()


def wait_until(predicate, timeout: float = 10.0, message: str = "condition never met") -> Any:
    with gevent.Timeout(timeout, AssertionError(message)):
        while True:
            value = predicate()
            if value:
                return value
            gevent.sleep(0.05)


class Recorder:
    """A siothread.Client that records every event it receives."""

    def __init__(self, url: str, name: str, namespace: str = "/") -> None:
        import siothread

        self.events: List[Any] = []
        self.client = siothread.Client()
        self.client.on("*", lambda event, *args: self.events.append([event, *args]), namespace=namespace)
        self.client.on("ask", lambda *args: f"ack:{name}", namespace=namespace)
        self.client.connect(url, auth={"name": name}, transports=["websocket"], namespaces=[namespace])
        self.sid = self.client.get_sid(namespace)
        self.name = name

    def got(self, event: str) -> List[Any]:
        return [e[1:] for e in self.events if e[0] == event]

    def close(self) -> None:
        self.client.disconnect()


@contextlib.contextmanager
def cluster_of(*specs: Tuple[str, Dict[str, Any]]) -> Iterator[List[NodeProcess]]:
    """Nodes started from ``(kind, options)`` pairs, yielded once each counts them all; closed at exit."""
    nodes: List[NodeProcess] = []
    try:
        for kind, options in specs:
            nodes.append(NodeProcess(kind, dict(options)))
        for node in nodes:
            wait_until(lambda node=node: node.request("count") == len(specs), message="nodes never saw each other")
        yield nodes
    finally:
        for node in nodes:
            node.close()


@contextlib.contextmanager
def recorders(nodes: List[NodeProcess]) -> Iterator[Any]:
    """``make(node, name, namespace)`` -> a Recorder; at exit every recorder closes and every node has let
    its sockets go (so the next test starts from an empty cluster)."""
    made: List[Recorder] = []

    def make(node: NodeProcess, name: str, namespace: str = "/") -> Recorder:
        rec = Recorder(node.url, name, namespace)
        made.append(rec)
        return rec

    try:
        yield make
    finally:
        for rec in made:
            rec.close()
        for node in nodes:
            wait_until(lambda node=node: node.request("fetch", local=True) == [])
