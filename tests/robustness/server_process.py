"""Start :mod:`soak_server` in a subprocess and talk to it (stats, signals)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List, Optional

import gevent

from robust_helpers import connect, read_response

SCRIPT = Path(__file__).resolve().parent / "soak_server.py"


class ServerProcess:
    def __init__(self, port: int, options: dict, extra: Optional[List[str]] = None,
                 script: Path = SCRIPT) -> None:
        """``script``: the server to run (:mod:`soak_server`, or :mod:`sio_server` for Socket.IO)."""
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(port), json.dumps(options), *(extra or [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.stderr = b""
        deadline = time.monotonic() + 20
        while b"serving on" not in self.stderr:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise AssertionError(f"server did not start: {self.stderr!r}")
            self.stderr += self.proc.stderr.read1(4096)  # type: ignore[union-attr]

    def target(self, transport: str = "polling", sid: Optional[str] = None) -> str:
        q = f"/engine.io/?EIO=4&transport={transport}"
        return q + (f"&sid={sid}" if sid else "")

    def stats(self) -> Any:
        with connect(self.port, timeout=60) as s:  # a collection over 10k sessions takes a while
            s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status, _, body = read_response(s)
        assert status == 200
        return json.loads(body)

    def wait_stats(self, predicate, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if predicate(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"server stats never matched: {st}")
            gevent.sleep(0.2)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> Optional[int]:
        """The exit code, or None if it is still running after ``timeout`` seconds."""
        try:
            out = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            return None
        self.stderr += out or b""
        return self.proc.returncode

    def exit_stats(self) -> Any:
        for line in self.stderr.decode(errors="replace").splitlines():
            if line.startswith("exit-stats "):
                return json.loads(line[len("exit-stats "):])
        return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()
