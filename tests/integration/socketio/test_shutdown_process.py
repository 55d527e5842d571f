"""Graceful shutdown of a real server process (engine.io's ``server-close*.js`` pattern, row X1)."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sio_helpers import require_node_modules

HERE = Path(__file__).resolve().parent
TIMEOUT = 2.0

pytestmark = pytest.mark.node


def test_server_process_drains_and_exits_within_timeout():
    js = require_node_modules()
    server = subprocess.Popen([sys.executable, str(HERE / "sio_shutdown_server.py"), str(TIMEOUT)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peer = None
    try:
        port = json.loads(server.stdout.readline())["port"]
        peer = subprocess.Popen(["node", str(js / "sio_scenarios.js"), f"http://127.0.0.1:{port}",
                                 "shutdown_peer", json.dumps({"transports": ["websocket"]})],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(js))
        assert json.loads(peer.stdout.readline()) == {"ready": True}
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=TIMEOUT + 5)
        took = time.monotonic() - start
        peer_out, peer_err = peer.communicate(timeout=5)
    finally:
        for proc in (server, peer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert server.returncode == 0, err
    assert took < TIMEOUT + 1, took
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {"finished": "slow"} in lines  # the running handler finished...
    assert {"call_failed": "DisconnectedError"} in lines  # ...the pending call() failed at once
    assert [line["reason"] for line in lines if "disconnect" in line] == ["server shutting down"] * 3
    result = json.loads(peer_out.splitlines()[-1])
    assert result["acks"] == {"slow": "done"}  # the finished handler's ack was flushed before the close
    # no Socket.IO DISCONNECT packet: the clients see the transport close and would reconnect elsewhere
    assert result["reasons"] == ["transport close"] * 3
