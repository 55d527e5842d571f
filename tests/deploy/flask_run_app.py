"""A flask_siothread app served by ``socketio.run()`` without gevent's monkey-patching:
``python flask_run_app.py PORT``. Ends itself after ``DEPLOY_MAX_SECONDS`` (default 600)."""
import os
import sys
import threading

from flask import Flask, jsonify

from flask_siothread import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app)


@app.route("/mode")
def mode():
    auto = socketio.server.eio.auto_runtime
    return jsonify(async_mode=socketio.server.async_mode, pid=os.getpid(), resolved=auto and auto.mode,
                   resolved_by=auto and auto.resolved_by)


@socketio.on("echo")
def echo(data):
    emit("echoed", data)
    return data


if __name__ == "__main__":
    limit = threading.Timer(float(os.environ.get("DEPLOY_MAX_SECONDS", "600")), os._exit, (0,))
    limit.daemon = True
    limit.start()
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]))
