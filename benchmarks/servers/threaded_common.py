"""The threading-mode fixtures: a Server class of either stack on Werkzeug's threaded server.

No monkey-patching (the deployments the threading mode is for): Werkzeug's
``make_server(threaded=True)``, as ``app.run(threaded=True)`` in python-socketio's
examples, with its request log off.
"""
import logging
from typing import Any, Callable

from _common import add_handlers, parse_args, start_watchdog


def main(description: str, server_class: Callable[..., Any], wsgi_app: Callable[[Any], Any]) -> None:
    args = parse_args(description)
    start_watchdog(args.max_seconds)
    sio = server_class(async_mode="threading", cors_allowed_origins="*", max_http_buffer_size=args.max_buffer)
    add_handlers(sio)
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    make_server(args.host, args.port, wsgi_app(sio), threaded=True).serve_forever()
