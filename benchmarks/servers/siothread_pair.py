"""Two siothread 'workers' in one process, for measuring what a hand-off costs.

Worker A and worker B are two Socket.IO servers with their own ports and hand-off
routers in one group, as two worker processes would be; requests sent to A for a
session of B are handed to B (a descriptor over a Unix socket, or relayed bytes
under TLS). Both in one process, the process's CPU is the cost of both sides.

Usage: ``python siothread_pair.py --port A --port-b B [--certfile C --keyfile K]``
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

import siothread  # noqa: E402
from siothread.handoff import Router  # noqa: E402
from siothread.serving import make_server  # noqa: E402


def worker(port: int, ssl_args: dict) -> Router:
    sio = siothread.Server(cors_allowed_origins="*")

    @sio.on("echo")
    def echo(sid, *args):
        sio.emit("echo", args, to=sid)

    server = make_server(siothread.WSGIApp(sio), "127.0.0.1", port, **ssl_args)
    router = Router(f"pair{os.getpid()}", server)
    router.start()
    server.start()
    return router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port-b", type=int, required=True)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    ssl_args = {"certfile": args.certfile, "keyfile": args.keyfile} if args.certfile else {}
    worker(args.port, ssl_args)
    worker(args.port_b, ssl_args)
    print("serving on", args.port, args.port_b, file=sys.stderr, flush=True)
    gevent.sleep(args.max_seconds)


if __name__ == "__main__":
    main()
