"""siothread through its public API, with the same handlers as the other fixtures."""
from gevent import monkey

monkey.patch_all()

import siothread  # noqa: E402

from _common import add_handlers, parse_args, start_watchdog  # noqa: E402


def build(max_buffer: int, ping_interval: "float | None" = None) -> "siothread.WSGIApp":
    extra = {} if ping_interval is None else {"ping_interval": ping_interval}
    sio = siothread.Server(cors_allowed_origins="*", max_http_buffer_size=max_buffer, **extra)
    add_handlers(sio)
    return siothread.WSGIApp(sio)


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    siothread.serve(build(args.max_buffer, args.ping_interval), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
