"""Start an example server (``examples/...``) on a free port for a browser test, and stop it after."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from tests.conftest import ROOT, free_port


def _wait_listening(port: int, proc: "subprocess.Popen[bytes]", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the example exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the example did not start listening")


@contextmanager
def example_server(entry: str) -> Iterator[str]:
    """Run ``python examples/<entry> --port N`` (the browser bundle installed first); yield its URL."""
    if not (ROOT / "examples" / "node_modules" / "socket.io-client").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=ROOT / "examples", check=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / entry), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
