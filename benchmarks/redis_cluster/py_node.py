"""One node of the cross-node benchmark: siothread or python-socketio, with its Redis manager.

``python py_node.py STACK PORT REDIS_URL`` with STACK ``siothread``, ``siothread-streams``,
``siothread-streams-recovery`` or ``python-socketio``. A client's ``fire``
event ``{"count": n, "rate": r}`` makes this node broadcast ``n`` ``tick`` events
``[publish time in ms, seq]`` to every client of the cluster, ``r`` per second
(0: as fast as the node can), and acks when it has sent them.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402


def main() -> None:
    stack, port, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if stack.startswith("siothread"):
        import siothread as sio_pkg

        # siothread-streams[-recovery]: the Redis Streams adapter (with recovery, every broadcast waits for
        # its XADD and carries the entry id as offset)
        manager = sio_pkg.RedisStreamsManager(url) if "streams" in stack else sio_pkg.RedisManager(url)
        recovery = {"max_disconnection_duration": 60} if stack.endswith("-recovery") else None
        sio = sio_pkg.Server(client_manager=manager, cors_allowed_origins="*", recovery=recovery)
        app = sio_pkg.WSGIApp(sio)
        server = sio_pkg.make_server(app, "127.0.0.1", port)
    else:
        import socketio
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        sio = socketio.Server(async_mode="gevent", cors_allowed_origins="*",
                              client_manager=socketio.RedisManager(url))
        server = pywsgi.WSGIServer(("127.0.0.1", port), socketio.WSGIApp(sio), handler_class=WebSocketHandler,
                                   log=None)

    @sio.on("fire")
    def fire(sid, spec):
        count, rate = int(spec["count"]), float(spec.get("rate", 0))
        start = time.monotonic()
        for seq in range(count):
            if rate:
                delay = start + seq / rate - time.monotonic()
                if delay > 0:
                    gevent.sleep(delay)
            elif seq % 50 == 0:
                gevent.sleep(0)
            sio.emit("tick", [time.time() * 1000.0, seq])
        return count

    parent = os.getppid()

    def watchdog() -> None:
        while os.getppid() == parent:
            gevent.sleep(1)
        os._exit(0)

    gevent.spawn(watchdog)
    server.serve_forever()


if __name__ == "__main__":
    main()
