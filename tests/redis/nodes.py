"""Cluster nodes in their own processes (siothread's ``redis_node.py``, Node's ``redis_node.js``)."""
import json
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import Any, Dict, List

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


def start_nodes(specs: List[Any]) -> List[NodeProcess]:
    """Start ``[(kind, options), ...]`` and wait until every node counts all of them."""
    nodes: List[NodeProcess] = []
    try:
        for kind, options in specs:
            nodes.append(NodeProcess(kind, dict(options)))
        for node in nodes:
            wait_until(lambda node=node: node.request("count") == len(nodes), message="nodes never saw each other")
    except BaseException:
        for node in nodes:
            node.close()
        raise
    return nodes


class Clients:
    """Recorders made by one test; ``close`` waits until no node holds a socket any more."""

    def __init__(self, nodes: List[NodeProcess]) -> None:
        self.nodes = nodes
        self.made: List[Recorder] = []

    def __call__(self, node: NodeProcess, name: str, namespace: str = "/") -> Recorder:
        rec = Recorder(node.url, name, namespace)
        self.made.append(rec)
        return rec

    def close(self) -> None:
        for rec in self.made:
            rec.close()
        for node in self.nodes:
            wait_until(lambda node=node: node.request("fetch", local=True) == [])
