"""python-socketio 5 (sync Server, async_mode='gevent') on gevent pywsgi + gevent-websocket.

The competitor stack of issue 5, configured as its documentation recommends for gevent.
The pywsgi access log is off (one line per request would be an unfair cost on polling).
"""
from gevent import monkey

monkey.patch_all()

import socketio  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

from _common import add_handlers, parse_args, start_watchdog  # noqa: E402


def build(max_buffer: int) -> socketio.WSGIApp:
    sio = socketio.Server(async_mode="gevent", cors_allowed_origins="*",
                          max_http_buffer_size=max_buffer)
    add_handlers(sio)
    return socketio.WSGIApp(sio)


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    server = pywsgi.WSGIServer((args.host, args.port), build(args.max_buffer),
                               handler_class=WebSocketHandler, log=None)
    server.serve_forever()


if __name__ == "__main__":
    main()
