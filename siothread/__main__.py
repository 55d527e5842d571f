"""``python -m siothread module:app``: serve a WSGI app with siothread's hardened gevent server."""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402

from .serving import serve  # noqa: E402


def main(argv: "list[str] | None" = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m siothread", description=__doc__)
    parser.add_argument("app", help="module:attribute of the WSGI app (e.g. chat:app)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    parser.add_argument("--shutdown-timeout", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port (sessions are handed to their worker)")
    args = parser.parse_args(argv)
    module_name, _, attr = args.app.partition(":")
    sys.path.insert(0, "")
    app = getattr(importlib.import_module(module_name), attr or "app")
    serve(app, host=args.host, port=args.port, header_timeout=args.header_timeout,
          idle_timeout=args.idle_timeout, shutdown_timeout=args.shutdown_timeout, workers=args.workers)


if __name__ == "__main__":
    main()
