"""examples/redis_cluster/app.py: two nodes on one Redis share the lobby; /health reports the adapter."""
import json
import os
import subprocess
import sys
import urllib.request

import pytest

import siothread
from nodes import wait_until
from tests.conftest import ROOT, free_port

APP = ROOT / "examples" / "redis_cluster" / "app.py"


@pytest.fixture
def two_nodes(redis_server):
    ports = [free_port(), free_port()]
    env = {**os.environ, "REDIS_URL": redis_server.url}
    procs = [subprocess.Popen([sys.executable, str(APP), str(p)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for p in ports]

    def healthy(port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return json.loads(r.read())["connected"]
        except OSError:
            return False

    try:
        for port in ports:
            wait_until(lambda port=port: healthy(port), timeout=20)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


def test_two_example_nodes_share_the_lobby(two_nodes):
    clients = []
    try:
        for port in two_nodes:
            c = siothread.Client()
            heard = []
            c.on("said", heard.append)
            c.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            clients.append((c, heard))
        assert clients[0][0].call("say", "hello") == "ok"
        wait_until(lambda: clients[1][1])
        assert clients[1][1][0]["text"] == "hello" and clients[1][1][0]["node"] == two_nodes[0]
        everyone = clients[1][0].call("who")
        assert {s["id"] for s in everyone} == {c.get_sid() for c, _ in clients}
    finally:
        for c, _ in clients:
            c.disconnect()
