"""One node of a Redis-backed siothread cluster: a chat where every node sees every message.

Run two or three of these behind nginx (see README.md in this folder)::

    REDIS_URL=redis://127.0.0.1:6379/0 python app.py 5001
    REDIS_URL=redis://127.0.0.1:6379/0 python app.py 5002

A client of node 5001 and a client of node 5002 share rooms, broadcasts, acks and
``fetch_sockets``; ``GET /health`` answers the adapter's status for a readiness probe
(503 while Redis is unreachable: the node still serves its own clients).
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import siothread  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5001

sio = siothread.Server(client_manager=siothread.RedisManager(REDIS_URL), cors_allowed_origins="*")


@sio.event
def connect(sid, environ, auth):
    sio.enter_room(sid, "lobby")
    sio.emit("joined", {"sid": sid, "node": PORT}, to="lobby", skip_sid=sid)


@sio.on("say")
def say(sid, text):
    sio.emit("said", {"sid": sid, "text": str(text)[:500], "node": PORT}, to="lobby")
    return "ok"


@sio.on("who")
def who(sid):
    """Every socket of the cluster, on whichever node it is."""
    return [{"id": s.id, "rooms": sorted(s.rooms)} for s in sio.fetch_sockets()]


def health(environ, start_response):
    status = sio.manager.status()
    code = "200 OK" if status["connected"] else "503 Service Unavailable"
    start_response(code, [("Content-Type", "application/json")])
    return [json.dumps(status).encode()]


def http_app(environ, start_response):
    if environ.get("PATH_INFO") == "/health":
        return health(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


app = siothread.WSGIApp(sio, http_app)

if __name__ == "__main__":
    siothread.serve(app, host="127.0.0.1", port=PORT)
