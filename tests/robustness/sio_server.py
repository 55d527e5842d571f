"""A Socket.IO server in its own process, for the restart and broadcast rows (X4, L3).

Usage: ``python sio_server.py PORT '{"ping_interval": 1, ...}' [--shutdown-timeout S]``

Runs :func:`siothread.serve` (SIGTERM / SIGINT trigger the graceful shutdown).
Events: ``echo`` (acks its arguments), ``join`` (enters a room), ``remember``
(saves session data), ``whoami`` (sid, rooms, session, pid); a CONNECT with
``auth={"room": r}`` enters room ``r``. HTTP: ``GET /stats`` answers sockets,
sessions, handler counts, codec call counts (the Socket.IO encoder and the
engine's ``prepare`` are wrapped) and the process CPU time as JSON;
``GET /broadcast?room=R&n=N&rate=HZ`` emits N numbered ``tick`` events to room R.
On exit it prints ``exit-stats {...}`` on stderr.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent  # noqa: E402

import siothread  # noqa: E402
from siothread.server import Server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("options", nargs="?", default="{}")
    parser.add_argument("--shutdown-timeout", type=float, default=5.0)
    args = parser.parse_args()
    sio = Server(**json.loads(args.options))
    counts: Counter = Counter()
    reasons: Counter = Counter()

    real_encode = sio._encode
    real_prepare = sio.eio.prepare

    def counting_encode(packet):
        counts["encodes"] += 1
        return real_encode(packet)

    def counting_prepare(messages, **kwargs):
        counts["prepares"] += 1
        return real_prepare(messages, **kwargs)

    sio._encode = counting_encode
    sio.eio.prepare = counting_prepare

    @sio.on("connect")
    def on_connect(sid, environ, auth):
        counts["connects"] += 1
        if isinstance(auth, dict) and isinstance(auth.get("room"), str):
            sio.enter_room(sid, auth["room"])

    @sio.on("disconnect")
    def on_disconnect(sid, reason):
        counts["disconnects"] += 1
        reasons[reason] += 1

    @sio.on("echo")
    def echo(sid, *data):
        return data

    @sio.on("join")
    def join(sid, room):
        sio.enter_room(sid, room)
        return sorted(sio.rooms(sid))

    @sio.on("remember")
    def remember(sid, data):
        sio.save_session(sid, data)
        return True

    @sio.on("whoami")
    def whoami(sid):
        return {"sid": sid, "rooms": sorted(sio.rooms(sid)), "session": sio.get_session(sid), "pid": os.getpid()}

    def stats() -> dict:
        return {"pid": os.getpid(), "sockets": len(sio._sockets), "clients": len(sio._clients),
                "sessions": len(sio.eio.sessions), "cpu": time.process_time(),
                "counts": dict(counts), "reasons": dict(reasons)}

    def broadcast(query: dict) -> dict:
        room = query["room"][0]
        n = int(query["n"][0])
        rate = float(query.get("rate", ["0"])[0])
        gap = 1.0 / rate if rate > 0 else 0.0
        blob = "x" * int(query.get("size", ["100"])[0])
        emit_cpu = 0.0
        t0 = time.monotonic()
        for i in range(n):
            c0 = time.process_time()
            sio.emit("tick", {"n": i, "blob": blob}, to=room)
            emit_cpu += time.process_time() - c0
            if gap:
                gevent.sleep(max(0.0, t0 + (i + 1) * gap - time.monotonic()))
        return {"emit_cpu": emit_cpu, "elapsed": time.monotonic() - t0}

    def control_app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/stats":
            result = stats()
        elif path == "/broadcast":
            result = broadcast(parse_qs(environ.get("QUERY_STRING", "")))
        else:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        body = json.dumps(result).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    app = siothread.WSGIApp(sio, other_wsgi_app=control_app)
    siothread.serve(app, "127.0.0.1", args.port, shutdown_timeout=args.shutdown_timeout,
                    header_timeout=5, idle_timeout=5, backlog=2048)
    print("exit-stats " + json.dumps(stats()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
