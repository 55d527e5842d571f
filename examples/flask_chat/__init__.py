"""A chat built the Flask way on flask_siothread.

- ``create_app()`` is the app factory; ``socketio`` is created unbound and
  attached with ``socketio.init_app(app)``.
- The ``chat`` blueprint (:mod:`.views`) logs users in by nickname (kept in
  the Flask session) and renders the Jinja templates; :mod:`.events` holds the
  Socket.IO handlers: rooms to join and leave, messages acknowledged by the
  server and kept as a short history per room, a typing indicator.
- Connection-state recovery (``recovery=...``) brings a client that lost its
  connection back into its rooms, with the messages it missed.
- The browser loads the official ``socket.io-client`` bundle from
  ``examples/node_modules`` (``npm ci`` in ``examples/``), served by the app.

Run it with ``scripts/demo.sh`` (``python examples/flask_chat --port 5000``), or with
the extension's CLI: ``flask --app examples/flask_chat siothread run``.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import secrets  # noqa: E402
from typing import Optional  # noqa: E402

from flask import Flask  # noqa: E402

from flask_siothread import SocketIO  # noqa: E402

#: how long a client that lost its connection may come back to its session (seconds)
RECOVERY_SECONDS = 120

socketio = SocketIO(recovery={"max_disconnection_duration": RECOVERY_SECONDS})


def create_app(config: Optional[dict] = None) -> Flask:
    """Build the chat app; ``config`` overrides (tests pass a fixed ``SECRET_KEY``)."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("CHAT_SECRET_KEY") or secrets.token_hex(32)
    app.config["BUNDLE_DIR"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                            "node_modules", "socket.io-client", "dist")
    app.config.update(config or {})

    from . import events  # noqa: F401  (registers the Socket.IO handlers)
    from .views import chat

    app.register_blueprint(chat)
    socketio.init_app(app)
    return app
