"""The app ``flask siothread run`` serves in tests/flask/test_run.py (``flask --app tests/flask/cli_app.py``)."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from flask import Flask  # noqa: E402

from flask_siothread import SocketIO  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app)


@app.route("/pid")
def pid():
    return str(os.getpid())


@socketio.on("ping-me")
def ping_me(data):
    return data
