"""siothread with async_mode='threading' on Werkzeug's threaded server (no monkey-patching)."""
import siothread

from _common import add_handlers, parse_args, start_watchdog
from threaded_common import serve_werkzeug


def build(max_buffer: int) -> "siothread.WSGIApp":
    sio = siothread.Server(async_mode="threading", cors_allowed_origins="*", max_http_buffer_size=max_buffer)
    add_handlers(sio)
    return siothread.WSGIApp(sio)


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    serve_werkzeug(build(args.max_buffer), args.host, args.port)


if __name__ == "__main__":
    main()
