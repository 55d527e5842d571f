"""Workers with a Redis adapter of the application's choosing, the application made before the
fork (``siothread.serve(app, workers=N)``, gunicorn ``--preload``): the master leaves the cluster
before forking, each worker joins as a node of its own (a replacement worker too), and rooms, acks,
fetch_sockets and server_side_emit span the workers and another node through Redis."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.workers.conftest import Cluster, http, run_client

pytestmark = pytest.mark.node

#: the channel every node of a namespace "/" subscribes to once, per adapter (PUBSUB NUMSUB counts nodes)
NODE_CHANNEL = {"classic": "socket.io-request#/#", "streams": "socket.io#/#"}


def _redis_server_class():
    # the Redis tests' own redis-server runner (tests/redis/conftest.py), loaded by path
    path = Path(__file__).resolve().parent.parent / "redis" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_redis_runner_for_workers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.RedisServer


@pytest.fixture(scope="module")
def redis_server():
    server = _redis_server_class()()
    yield server
    server.close()


def numsub(redis_server, channel: str) -> int:
    return int(redis_server.cli("PUBSUB", "NUMSUB", channel).split()[-1])


def connections_to(pid: int, port: int) -> int:
    """TCP connections of process ``pid`` to 127.0.0.1:``port`` (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[9] in inodes:
            count += 1
    return count


def wait_until(check, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.1)


def servers_seen(cluster: Cluster) -> int:
    status, body = http(cluster.port, "/worker", timeout=5)
    return int(json.loads(body)["servers"]) if status == 200 else -1


def check_cluster(urls, pids, clients: int = 6) -> dict:
    """The cluster scenario over ``urls``: every server pid in ``pids`` holds a client and answers."""
    r = run_client(urls[0], cluster=True, clients=clients, urls=urls, transports=["websocket"])
    assert set(r["workers"]) == set(pids), r["workers"]
    assert r["news"] == ["hello all"] * clients
    assert r["counted"] == sorted(r["ids"])
    assert sorted(r["polled"]["responses"]) == sorted(r["ids"])  # an ack from every client, per sid
    assert r["polled"]["timed_out"] == []
    assert r["servers"] == sorted(pid for pid in pids if pid != r["workers"][0])
    return r


def master_is_no_node(cluster: Cluster, redis_server, kind: str, nodes: int) -> None:
    assert connections_to(cluster.proc.pid, redis_server.port) == 0
    assert numsub(redis_server, NODE_CHANNEL[kind]) == nodes


@pytest.mark.parametrize("kind", ["classic", "streams"])
def test_serve_workers_join_the_redis_cluster(redis_server, kind):
    env = {"WORKER_APP_REDIS": redis_server.url, "WORKER_APP_ADAPTER": kind}
    with Cluster("serve", 2, env=env) as cluster, Cluster("serve", 1, env=env, scatter=False) as node:
        workers = cluster.wait_workers(2)
        pids = [*workers, node.proc.pid]
        assert {info["adapter"] for info in workers.values()} == {
            "RedisManager" if kind == "classic" else "RedisStreamsManager"}
        wait_until(lambda: numsub(redis_server, NODE_CHANNEL[kind]) == 3, what="3 nodes")
        assert servers_seen(cluster) == servers_seen(node) == 3
        master_is_no_node(cluster, redis_server, kind, 3)
        check_cluster([cluster.url, node.url], pids)

        # a worker killed: the master forks a replacement, which joins the cluster
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in cluster.worker_pids() and len(cluster.worker_pids()) == 2,
                   what="a replacement worker")
        replaced = cluster.wait_workers(2)
        assert victim not in replaced
        wait_until(lambda: numsub(redis_server, NODE_CHANNEL[kind]) == 3, what="the replacement to join")
        master_is_no_node(cluster, redis_server, kind, 3)
        check_cluster([cluster.url, node.url], [*replaced, node.proc.pid])


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "loaded_in_each_worker"])
def test_gunicorn_workers_join_the_redis_cluster(redis_server, preload):
    env = {"WORKER_APP_REDIS": redis_server.url}
    with Cluster("gunicorn", 2, env=env, extra=["--preload"] if preload else []) as cluster:
        workers = cluster.wait_workers(2)
        assert {info["adapter"] for info in workers.values()} == {"RedisManager"}
        wait_until(lambda: numsub(redis_server, NODE_CHANNEL["classic"]) == 2, what="2 nodes")
        assert servers_seen(cluster) == 2
        master_is_no_node(cluster, redis_server, "classic", 2)
        check_cluster([cluster.url], list(workers))


def test_flask_app_shares_rooms_across_workers():
    # no adapter chosen: the workers find the Flask app's Socket.IO server and give it theirs
    with Cluster("serve", 2, script="flask_worker_app") as cluster:
        workers = cluster.wait_workers(2)
        assert {info["adapter"] for info in workers.values()} == {"WorkerManager"}
        check_cluster([cluster.url], list(workers))


@pytest.mark.parametrize("kind", ["classic", "sharded", "streams"])
def test_a_forked_child_drops_the_inherited_link_and_joins(redis_server, kind):
    # no release before this fork: the child finds the adapter joined by its parent
    script = Path(__file__).resolve().parent / "fork_node.py"
    proc = subprocess.run([sys.executable, str(script), redis_server.url, kind], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    child = r["child_report"]
    assert child["uid_changed"] and child["servers"] == 2
    assert child["child_asked"] == [r["parent"]]  # the parent's link still hears
    assert r["parent_asked"] == [r["child"]] and child["asked_by_parent"]
    assert r["parent_servers"] == 2 and r["parent_uid_kept"] and r["parent_connected_after"]
    assert "Traceback" not in proc.stderr, proc.stderr


def test_the_socketio_server_is_found_through_wrappers():
    import flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from flask_siothread._running import _Served
    from flask_siothread import SocketIO
    from siothread.workerproc import find_socketio_server

    app = flask.Flask(__name__)
    socketio = SocketIO(app)
    assert find_socketio_server(app) is socketio.server  # app.wsgi_app is the extension's middleware
    app.wsgi_app = ProxyFix(app.wsgi_app)  # type: ignore[method-assign]
    assert find_socketio_server(app) is socketio.server
    assert find_socketio_server(_Served(app, socketio)) is socketio.server  # what socketio.run() serves
    assert find_socketio_server(flask.Flask("no_socketio")) is None
