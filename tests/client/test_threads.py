"""The client in plain threaded programs (no gevent), its SIGINT handling, and the example script."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEER = HERE / "threaded_peer.py"


def run_peer(*args: str, timeout: float = 30) -> dict:
    out = subprocess.run([sys.executable, str(PEER), *args], capture_output=True, timeout=timeout,
                         cwd=str(ROOT), check=True)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def test_plain_threads(server):
    report = run_peer("scenario", server.url)
    assert report["gevent_patched"] is False
    assert report["transport"] == "websocket"
    assert report["echo"] == "hi" and report["binary"] is True
    assert report["after_reconnect"] == "again"
    assert report["events"] == ["connect", [1, 2], "transport close", "connect", "client disconnect"]
    assert report["simple"] == ["simple", "x"]
    assert report["threads"] == []  # every thread of the client ended


def test_sigint_disconnects_then_raises_keyboard_interrupt(server):
    proc = subprocess.Popen([sys.executable, str(PEER), "sigint", server.url], stdout=subprocess.PIPE,
                            cwd=str(ROOT))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report == {"outcome": "KeyboardInterrupt", "connected": False, "threads": []}


def test_no_signal_handler_outside_the_main_thread():
    assert run_peer("thread") == {"unchanged": True}


def test_example_client_script(server):
    script = ROOT / "examples" / "client_script.py"
    out = subprocess.run(
        [sys.executable, str(script), "--url", server.url, "--name", "ann", "--say", "hello there",
         "--seconds", "1"], capture_output=True, timeout=30, cwd=str(ROOT), check=True)
    lines = out.stdout.decode().splitlines()
    assert lines[0].startswith("* connected as ann")
    assert "server: ann joined" in lines
    assert "ann: hello there" in lines
    assert lines[-1] == "* disconnected: client disconnect"
