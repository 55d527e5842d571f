"""A Socket.IO server process for the graceful-shutdown test.

Usage: python sio_shutdown_server.py <timeout>. Prints {"port": N} once
listening and one JSON line per notable event; on SIGTERM it runs
``sio.shutdown(timeout)``, stops the listener and exits by itself.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

import siothread  # noqa: E402
from siothread.errors import DisconnectedError  # noqa: E402
from siothread.server import Server  # noqa: E402


def say(**what: object) -> None:
    sys.stdout.write(json.dumps(what) + "\n")
    sys.stdout.flush()


def main() -> None:
    timeout = float(sys.argv[1])
    sio = Server()

    @sio.on("slow")
    def slow(sid: str) -> str:
        gevent.sleep(0.5)
        say(finished="slow")
        return "done"

    @sio.on("hang")
    def hang(sid: str) -> None:
        gevent.sleep(60)

    @sio.on("pending")
    def pending(sid: str) -> None:
        try:
            sio.call("never-answered", to=sid, timeout=60)
        except DisconnectedError:
            say(call_failed="DisconnectedError")

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        say(disconnect=sid, reason=reason)

    server = siothread.make_server(siothread.WSGIApp(sio), "127.0.0.1", 0)
    server.start()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    say(port=server.server_port)
    stop.wait()
    start = time.monotonic()
    sio.shutdown(timeout)
    server.stop(timeout=0.5)
    say(shutdown_took=time.monotonic() - start)


if __name__ == "__main__":
    main()
