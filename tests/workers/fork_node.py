"""A Redis node that forks without releasing its adapter first (a fork the server does not know of).

``python fork_node.py REDIS_URL classic|sharded|streams``: the parent joins the cluster, forks; the
child calls ``manager.initialize()`` (what a worker does as it starts), which must drop the
inherited link without disturbing the parent's and join as a node of its own. Both then ask
each other with ``server_side_emit``. Prints one JSON line with what each saw.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402

import siothread  # noqa: E402

url, kind = sys.argv[1], sys.argv[2]
adapter = {"classic": siothread.RedisManager, "sharded": siothread.ShardedRedisManager,
           "streams": siothread.RedisStreamsManager}[kind]
sio = siothread.Server(client_manager=adapter(url, requests_timeout=3))
manager = sio.manager
asked = gevent.event.Event()


@sio.on_server_event("who")
def who():
    asked.set()
    return os.getpid()


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True


def ask():
    done = gevent.event.AsyncResult()
    sio.server_side_emit("who", callback=done.set)
    return done.get(timeout=5)


assert wait_for(lambda: manager.status()["connected"])
parent_uid = manager.uid
ready_r, ready_w = os.pipe()
done_r, done_w = os.pipe()  # the parent says when it has the child's answer
pid = os.fork()
if pid == 0:
    code = 1
    try:
        manager.initialize()
        wait_for(lambda: manager.status()["connected"] and manager.server_count() == 2)
        result = {"uid_changed": manager.uid != parent_uid, "servers": manager.server_count(),
                  "child_asked": ask()}
        os.write(ready_w, (json.dumps(result) + "\n").encode())
        FileObjectPosix(done_r, "r").readline()
        result["asked_by_parent"] = asked.is_set()
        os.write(ready_w, (json.dumps(result) + "\n").encode())
        code = 0
    finally:
        os._exit(code)
os.close(ready_w)
lines = []
reader = FileObjectPosix(ready_r, "r")  # waits in the hub: the parent keeps serving
lines.append(json.loads(reader.readline()))
report = {"child": pid, "parent": os.getpid(), "parent_servers": manager.server_count(),
          "parent_asked": ask(), "parent_uid_kept": manager.uid == parent_uid}
os.write(done_w, b"done\n")
lines.append(json.loads(reader.readline()))
os.waitpid(pid, 0)
report["child_report"] = lines[-1]
report["parent_connected_after"] = manager.status()["connected"]
sio.shutdown(1)
print(json.dumps(report), flush=True)
