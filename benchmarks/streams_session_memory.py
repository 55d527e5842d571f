"""Memory of connection-state recovery on Redis Streams: per restored session, and per session in Redis.

    .venv/bin/python -m benchmarks.streams_session_memory [--sessions 200] [--missed 50]

Starts its own redis-server on a free port and one siothread server (in this
process) with ``RedisStreamsManager`` and recovery on. ``sessions`` sockets in
two rooms disconnect (their sessions go to Redis), ``missed`` broadcasts follow
(half to a room they are in, half to everyone), then every session is restored.
Prints one JSON line: Python heap bytes per restored session (``tracemalloc``,
the :class:`RecoveredSession` with its missed packets held), Redis bytes per
session key (``MEMORY USAGE``), and the stream's length and memory.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402

import siothread  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--missed", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="siothread-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        r = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                r.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        print(json.dumps(measure(url, r, args.sessions, args.missed)))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(url: str, r: "redis.Redis", sessions: int, missed: int) -> dict:
    manager = siothread.RedisStreamsManager(url, stream_name="bench")
    sio = siothread.Server(client_manager=manager, recovery={"max_disconnection_duration": 60})
    deadline = time.monotonic() + 10
    while not manager.status()["connected"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the manager never connected to Redis")
        gevent.sleep(0.02)
    pids = []
    for i in range(sessions):
        sid, pid = f"sid{i:06d}", f"pid{i:06d}"
        manager.connect("/", sid, f"eio{i}")
        manager.enter_room("/", sid, "lobby")
        manager.enter_room("/", sid, f"table{i % 10}")
        manager.persist_session("/", sid, pid, {"user": f"user{i}", "score": i})
        manager.disconnect("/", sid)
        pids.append(pid)
    gevent.sleep(0.5)  # the session writes land
    for i in range(missed):
        sio.emit("tick", {"seq": i, "text": "x" * 32}, to="lobby" if i % 2 else None)
    session_bytes = [r.memory_usage(f"sio:session:{pid}") or 0 for pid in pids[:20]]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    restored = [manager.restore_session("/", pid, None) for pid in pids]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert all(s is not None and len(s.missed) == missed for s in restored), "a session was not fully restored"
    heap = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    result = {
        "sessions": sessions, "missed_per_session": missed,
        "heap_bytes_per_restored_session": round(heap / sessions),
        "redis_bytes_per_session_key": round(sum(session_bytes) / len(session_bytes)),
        "stream_length": r.xlen("bench"), "stream_bytes": r.memory_usage("bench"),
    }
    sio.shutdown(timeout=1)
    return result


if __name__ == "__main__":
    main()
