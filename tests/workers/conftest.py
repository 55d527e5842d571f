"""Fixtures for the worker tests: siothread under several real processes.

``Cluster`` starts ``gunicorn -k siothread.gunicorn.Worker -w N`` or
``siothread.serve(app, workers=N)`` (``worker_app.py``) on a free port, with the
test-only accept scatter (``SIOTHREAD_TEST_SCATTER``) so that the consecutive
connections of one client reach alternating workers, and stops it by pid.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from tests.conftest import free_port, require_node_modules

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def http(port: int, target: str, method: str = "GET", body: bytes = b"", timeout: float = 10.0) -> tuple:
    """One request on a fresh connection: (status, body)."""
    with socket.socket() as s:  # no name lookup (it would start resolver threads)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
        s.sendall(head.encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


class Cluster:
    """A multi-process siothread server under test."""

    def __init__(self, kind: str, workers: int, env: Optional[Dict[str, str]] = None,
                 extra: Optional[List[str]] = None, scatter: bool = True, script: str = "worker_app") -> None:
        self.kind = kind
        self.workers = workers
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="siothread-workers-", suffix=".log", delete=False)
        full_env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + str(ROOT), **(env or {}))
        if scatter:
            full_env["SIOTHREAD_TEST_SCATTER"] = str(workers)
        if kind == "gunicorn":
            cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-k", "siothread.gunicorn.Worker",
                   "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "5",
                   *(extra or []), f"{script}:app"]
        else:
            cmd = [sys.executable, str(HERE / f"{script}.py"), str(self.port), str(workers)]
        self.proc = subprocess.Popen(cmd, cwd=str(HERE), env=full_env, stdout=self.log, stderr=self.log)
        try:
            self.wait_workers(workers)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace") if not self.log.closed else ""

    def wait_workers(self, count: int, timeout: float = 30.0) -> Dict[int, Dict[str, Any]]:
        """Wait until ``count`` distinct workers answer ``/worker``; pid -> info."""
        deadline = time.monotonic() + timeout
        seen: Dict[int, Dict[str, Any]] = {}
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                status, body = http(self.port, "/worker", timeout=2)
                if status == 200:
                    info = json.loads(body)
                    seen[info["pid"]] = info
            except OSError:
                pass
            if len(seen) >= count:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(seen)} of {count} workers answered: {self.output()}")
            time.sleep(0.05)

    def worker_pids(self) -> List[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if not self.log.closed:
            self.log.close()
            os.unlink(self.log.name)
        return self.proc.returncode


def run_client(url: str, timeout: float = 30, **opts: Any) -> Dict[str, Any]:
    """Run tests/js/workers_client.js; its JSON result (the test fails on error)."""
    js = require_node_modules()
    proc = subprocess.run(["node", str(js / "workers_client.js"), url, json.dumps(opts)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(js))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"workers_client.js failed: {proc.stdout} {proc.stderr}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def sid_slot(sid: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", sid), sid
    return alphabet.index(sid[0]) * 64 + alphabet.index(sid[1])


@pytest.fixture(scope="module")
def cluster_factory() -> Iterator[Any]:
    started: List[Cluster] = []

    def start(kind: str, workers: int, **kwargs: Any) -> Cluster:
        c = Cluster(kind, workers, **kwargs)
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop()
