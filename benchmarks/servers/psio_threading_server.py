"""python-socketio 5 with async_mode='threading' on Werkzeug's threaded server, as its examples deploy it."""
import socketio

from _common import add_handlers, parse_args, start_watchdog
from threaded_common import serve_werkzeug


def build(max_buffer: int) -> socketio.WSGIApp:
    sio = socketio.Server(async_mode="threading", cors_allowed_origins="*", max_http_buffer_size=max_buffer)
    add_handlers(sio)
    return socketio.WSGIApp(sio)


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    serve_werkzeug(build(args.max_buffer), args.host, args.port)


if __name__ == "__main__":
    main()
