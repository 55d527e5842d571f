"""Real redis-server processes for the Redis adapter tests, on free ports, killed by PID.

- ``redis_server``: one standalone redis-server per test session (tests that
  kill or stall Redis use ``fresh_redis``, their own).
- ``redis_cluster``: a 3-node Redis Cluster (3 primaries, no replicas) per session.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

import gevent
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tests.conftest import free_port, require_program  # noqa: E402


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    import socket

    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisServer:
    """One redis-server process; ``kill``/``start``/``stall``/``resume`` for the fault tests."""

    def __init__(self, port: Optional[int] = None, cluster: bool = False) -> None:
        self.binary = require_program("redis-server", "Debian's redis-server package (scripts/test.sh installs it)")
        self.port = port or (_cluster_port() if cluster else free_port())
        self.cluster = cluster
        self.dir = tempfile.mkdtemp(prefix="siothread-redis-")
        self.proc: Optional[subprocess.Popen] = None
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no", "--loglevel", "warning"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.kill()
                raise AssertionError(f"redis-server did not start on port {self.port}")
            gevent.sleep(0.05)

    def cli(self, *args: str, timeout: float = 5.0) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, timeout=timeout,
                             text=True)
        return out.stdout.strip()

    def ping(self) -> bool:
        try:
            return self.cli("PING", timeout=2) == "PONG"
        except (subprocess.TimeoutExpired, OSError):
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.proc.returncode is None:
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def stall(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """Three cluster-enabled redis-servers joined into one cluster (slots split by redis-cli)."""

    def __init__(self) -> None:
        self.nodes: List[RedisServer] = []
        try:
            for _ in range(3):  # one by one, so that a failed start still closes the others
                self.nodes.append(RedisServer(cluster=True))
            hosts = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run(["redis-cli", "--cluster", "create", *hosts, "--cluster-replicas", "0",
                            "--cluster-yes"], capture_output=True, timeout=30, check=True)
            deadline = time.monotonic() + 20
            while "cluster_state:ok" not in self.nodes[0].cli("CLUSTER", "INFO"):
                if time.monotonic() > deadline:
                    raise AssertionError("the Redis Cluster did not become ready")
                gevent.sleep(0.1)
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def close(self) -> None:
        for node in self.nodes:
            node.close()


@pytest.fixture(scope="session", autouse=True)
def _resolver_workers() -> None:
    """Redis clients resolve their host on gevent's threadpool, several at once: start
    those workers before any test takes its leak baseline (see the root conftest)."""
    from gevent import monkey

    real_sleep = monkey.get_original("time", "sleep")
    pool = gevent.get_hub().threadpool
    gevent.joinall([pool.spawn(real_sleep, 0.05) for _ in range(min(8, pool.maxsize))])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def fresh_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    require_program("redis-cli", "Debian's redis-tools package (scripts/test.sh installs it)")
    cluster = RedisCluster()
    yield cluster
    cluster.close()
