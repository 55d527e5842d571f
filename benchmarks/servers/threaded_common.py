"""Werkzeug's threaded server for the threading-mode fixtures (no monkey-patching)."""
import logging
from typing import Any


def serve_werkzeug(app: Any, host: str, port: int) -> None:
    """``app.run(threaded=True)`` as python-socketio's examples deploy, request log off."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    make_server(host, port, app, threaded=True).serve_forever()
