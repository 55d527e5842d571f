"""Servers for the client tests.

``server`` is parametrized over the two implementations the client must talk
to: Node's socket.io 4.8 (``tests/js/node_server.js``) and siothread
(``tests/client/sio_server.py``). Both run in a subprocess, take the same JSON
options, implement the same events and print ``{"port": N}`` once listening;
they exit when their stdin closes. Servers are started on demand, one per set
of options, and kept for the whole session.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import gevent
import pytest

from tests.conftest import require_node_modules

HERE = Path(__file__).resolve().parent
# pytest runs with --import-mode=importlib: make client_helpers importable by the tests.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
JS_DIR = HERE.parent / "js"
IMPLEMENTATIONS = ["node", "siothread"]


def siothread_server_available() -> bool:
    return importlib.util.find_spec("siothread.server.server") is not None


class ServerProcess:
    """A fixture server in a subprocess."""

    def __init__(self, kind: str, options: Dict[str, Any], wait: bool = True) -> None:
        self.kind = kind
        self.options = options
        if kind == "node":
            cmd = ["node", str(JS_DIR / "node_server.js"), json.dumps(options)]
        else:
            cmd = [sys.executable, str(HERE / "sio_server.py"), json.dumps(options)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     cwd=str(HERE.parent.parent))
        self.port = 0
        self.url = ""
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Read the ``{"port": N}`` line (separate, so that several servers start at once)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise RuntimeError(f"{self.kind} fixture server failed to start ({self.proc.returncode})")
        answer = json.loads(line)
        self.port = int(answer["port"])
        scheme = "https" if self.options.get("tls") else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.stdin.closed:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()


# The server configurations the tests use, all started together for a session:
# the subprocesses' pipes then exist before any test's leak-check baseline.
CONFIGS: Dict[str, Dict[str, Any]] = {
    "default": {"namespaces": ["/", "/admin"]},
    "path": {"path": "/custom/path"},
    "token": {"token": "sesame"},
    "recovery": {"recovery": True},
    "heartbeat": {"pingInterval": 300, "pingTimeout": 200},
    "msgpack": {"namespaces": ["/", "/admin"], "parser": "msgpack"},
}


class Servers:
    """The running servers of one implementation: ``servers["recovery"].url``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._running: Dict[str, ServerProcess] = {}
        try:
            for name, options in CONFIGS.items():
                self._running[name] = ServerProcess(kind, options, wait=False)
            for proc in self._running.values():
                proc.wait_ready()
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name: str) -> ServerProcess:
        return self._running[name]

    def fresh(self, **options: Any) -> ServerProcess:
        """A server of its own, which the caller stops (for tests that kill it)."""
        return ServerProcess(self.kind, options)

    def close(self) -> None:
        for server in self._running.values():
            server.stop()
        self._running.clear()


def _check_available(kind: str) -> None:
    if kind == "node":
        require_node_modules("socket.io")
    elif not siothread_server_available():
        pytest.skip("siothread.server.server is not available yet")


@pytest.fixture(scope="session", params=IMPLEMENTATIONS)
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """Every configured server of the parametrized implementation."""
    _check_available(request.param)
    running = Servers(request.param)
    yield running
    running.close()


@pytest.fixture
def server(servers: Servers) -> ServerProcess:
    """The default server (namespaces / and /admin) of the parametrized implementation."""
    return servers["default"]
