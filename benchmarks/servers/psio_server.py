"""python-socketio 5 (sync Server, async_mode='gevent') on gevent pywsgi + gevent-websocket.

The competitor stack of issue 5, configured as its documentation recommends for gevent.
The pywsgi access log is off (one line per request would be an unfair cost on polling).
"""
from gevent import monkey

monkey.patch_all()

import socketio  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

from _common import parse_args, start_watchdog  # noqa: E402


def build(max_buffer: int) -> socketio.WSGIApp:
    sio = socketio.Server(async_mode="gevent", cors_allowed_origins="*",
                          max_http_buffer_size=max_buffer)

    @sio.on("echo")
    def echo(sid, *args):
        sio.emit("echo", args, to=sid)

    @sio.on("ack")
    def ack(sid, *args):
        return args

    @sio.on("join")
    def join(sid, *args):
        sio.enter_room(sid, "bench")

    @sio.on("broadcast")
    def broadcast(sid, *args):
        sio.emit("broadcast", args, room="bench")

    return socketio.WSGIApp(sio)


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    server = pywsgi.WSGIServer((args.host, args.port), build(args.max_buffer),
                               handler_class=WebSocketHandler, log=None)
    server.serve_forever()


if __name__ == "__main__":
    main()
