"""The Socket.IO application the worker tests run under several processes.

As a module: ``gunicorn -k siothread.gunicorn.Worker -w 2 worker_app:app``.
As a script: ``python worker_app.py PORT WORKERS`` runs ``siothread.serve(app, workers=WORKERS)``
(one process serving alone with WORKERS=1).

Events: ``echo`` acks its arguments; ``whoami`` acks ``{"pid", "slot", "adapter", "servers"}`` of the
worker holding the session; ``join`` enters a room; ``shout``, ``poll_room``, ``count``,
``tell_servers`` and ``kick`` exercise the adapter across the workers. HTTP ``GET /worker`` answers the pid,
slot and hand-off counters of whichever worker received it.
"""
from gevent import monkey

monkey.patch_all()  # redis-py's sockets must cooperate (gunicorn's worker patches too)

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import gevent.event  # noqa: E402

import siothread  # noqa: E402
from siothread.workerproc import current_worker  # noqa: E402

# WORKER_APP_REDIS=url: the application chose a Redis adapter (the workers keep it), the classic
# one or, with WORKER_APP_ADAPTER=streams, RedisStreamsManager
_redis = os.environ.get("WORKER_APP_REDIS")
_adapters = {"classic": siothread.RedisManager, "streams": siothread.RedisStreamsManager}
sio = siothread.Server(
    ping_interval=float(os.environ.get("WORKER_APP_PING", "25")), ping_timeout=5,
    client_manager=_adapters[os.environ.get("WORKER_APP_ADAPTER", "classic")](_redis) if _redis else None)


def _whoami() -> dict:
    proc = current_worker()
    return {"pid": os.getpid(), "slot": proc.slot if proc is not None else -1,
            "adapter": type(sio.manager).__name__, "servers": sio.manager.server_count()}


@sio.on("echo")
def echo(sid, *args):
    return args


@sio.on("whoami")
def whoami(sid):
    return _whoami()


@sio.on("join")
def join(sid, room):
    sio.enter_room(sid, room)
    return True


@sio.on("shout")
def shout(sid, room, message):
    sio.to(room).emit("news", message)
    return True


@sio.on("poll_room")
def poll_room(sid, room):
    """A broadcast with acks to the room, whichever worker holds its members."""
    result = sio.to(room).timeout(3).call("question", "who are you?")
    return {"responses": result.responses, "timed_out": sorted(result.timed_out)}


@sio.on("count")
def count(sid, room):
    return sorted(s.id for s in sio.fetch_sockets(room))


@sio.on("tell_servers")
def tell_servers(sid):
    """server_side_emit with a callback: the pids of the other workers."""
    done = gevent.event.AsyncResult()
    sio.server_side_emit("which_pid", callback=done.set)
    return sorted(done.get(timeout=5))


@sio.on_server_event("which_pid")
def which_pid():
    return os.getpid()


@sio.on("kick")
def kick(sid, room):
    sio.disconnect_sockets(to=room)
    return True


def site(environ, start_response):
    if environ.get("PATH_INFO") == "/worker":
        proc = current_worker()
        info = dict(_whoami(), stats=proc.router.stats if proc is not None else {})
        body = json.dumps(info).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Length", "0")])
    return []


app = siothread.WSGIApp(sio, site)

if __name__ == "__main__":
    siothread.serve(app, "127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]), shutdown_timeout=3.0)
