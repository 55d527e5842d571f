"""Workers with a Redis adapter of the application's choosing: the workers keep it, and rooms,
acks, fetch_sockets and server_side_emit span the workers through Redis."""
import importlib.util
from pathlib import Path

import pytest

from tests.workers.conftest import Cluster, run_client

pytestmark = pytest.mark.node


def _redis_server_class():
    # the Redis tests' own redis-server runner (tests/redis/conftest.py), loaded by path
    path = Path(__file__).resolve().parent.parent / "redis" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_redis_runner_for_workers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.RedisServer


@pytest.fixture(scope="module")
def redis_url():
    server = _redis_server_class()()
    yield server.url
    server.kill()


def test_workers_use_the_configured_redis_adapter(redis_url):
    # gunicorn loads the application in each worker. (serve(workers=N) creates it before the fork,
    # and RedisManager connects to Redis when the server is created: its connection would be
    # shared by the workers; see docs/scaling.md.)
    with Cluster("gunicorn", 2, env={"WORKER_APP_REDIS": redis_url}) as cluster:
        r = run_client(cluster.url, cluster=True, clients=6, transports=["websocket"])
        assert len(set(r["workers"])) == 2
        assert r["news"] == ["hello all"] * 6
        assert r["counted"] == sorted(r["ids"])
        assert sorted(r["polled"]["responses"]) == sorted(r["ids"]) and r["polled"]["timed_out"] == []
        assert r["servers"] == [pid for pid in set(r["workers"]) if pid != r["workers"][0]]
        who = run_client(cluster.url, clients=1, messages=1, transports=["websocket"])["clients"][0]
        assert who["before"]["adapter"] == "RedisManager"
