"""siothread through its public API, with the same handlers as the other fixtures."""
from gevent import monkey

monkey.patch_all()

from typing import Any  # noqa: E402

import siothread  # noqa: E402

from _common import add_handlers, parse_args, start_watchdog  # noqa: E402


def build(max_buffer: int, ping_interval: "float | None" = None, metrics: bool = False) -> Any:
    extra = {} if ping_interval is None else {"ping_interval": ping_interval}
    sio = siothread.Server(cors_allowed_origins="*", max_http_buffer_size=max_buffer, **extra)
    add_handlers(sio)
    app = siothread.WSGIApp(sio)
    if metrics:
        from siothread.metrics import Metrics

        return Metrics(sio).mount(app)
    return app


def main() -> None:
    args = parse_args(__doc__, metrics=True)
    if args.workers == 1:
        # (with workers, the master stops them when the driver stops it; a greenlet started
        # before the fork would run in every worker, where the parent is the master)
        start_watchdog(args.max_seconds)
    siothread.serve(build(args.max_buffer, args.ping_interval, args.metrics), host=args.host, port=args.port,
                    workers=args.workers)


if __name__ == "__main__":
    main()
