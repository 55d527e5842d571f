"""An Engine.IO echo server in its own process, for soak, churn and shutdown tests.

Usage: ``python soak_server.py PORT '{"ping_interval": 1, ...}' [--block-disconnect S] [--shutdown-timeout S]``

Runs :func:`siothread.serve` (so SIGTERM / SIGINT trigger the graceful
shutdown) and answers ``GET /stats`` with its sessions, greenlets, fds and
handler counts as JSON. On exit it prints ``exit-stats {...}`` on stderr.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402

import siothread  # noqa: E402
from siothread.engine import Server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("options", nargs="?", default="{}")
    parser.add_argument("--block-disconnect", type=float, default=0.0)
    parser.add_argument("--shutdown-timeout", type=float, default=5.0)
    args = parser.parse_args()
    eio = Server(**json.loads(args.options))
    counts: Counter = Counter()
    reasons: Counter = Counter()

    @eio.on("connect")
    def on_connect(sid, environ):
        counts["connects"] += 1

    @eio.on("message")
    def on_message(sid, data):
        counts["messages"] += 1
        eio.send(sid, data)

    @eio.on("disconnect")
    def on_disconnect(sid, reason):
        counts["disconnects"] += 1
        reasons[reason] += 1
        if args.block_disconnect:
            gevent.sleep(args.block_disconnect)  # an application handler that will not finish

    def stats() -> dict:
        gc.collect()
        live = sum(1 for o in gc.get_objects()
                   if isinstance(o, greenlet.greenlet) and not o.dead and o.parent is not None)
        return {"sessions": len(eio.sessions), "greenlets": live, "fds": len(os.listdir("/proc/self/fd")),
                "counts": dict(counts), "reasons": dict(reasons)}

    def stats_app(environ, start_response):
        body = json.dumps(stats()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    app = siothread.WSGIApp(eio, other_wsgi_app=stats_app, socketio_path="engine.io")
    siothread.serve(app, "127.0.0.1", args.port, shutdown_timeout=args.shutdown_timeout,
                    header_timeout=5, idle_timeout=5, backlog=2048)
    print("exit-stats " + json.dumps(stats()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
