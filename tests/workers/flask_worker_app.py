"""A Flask application with flask_siothread, served by ``siothread.serve(app, workers=N)``.

``python flask_worker_app.py PORT WORKERS``. The Flask app is what is served (its
``wsgi_app`` is the extension's Socket.IO middleware), so the workers must find its
Socket.IO server through it to share rooms. The events are those of ``worker_app.py``'s
cluster scenario (``tests/js/workers_client.js``), written with the extension's API;
``GET /worker`` is a Flask view answering the pid of the worker that received it.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

import flask  # noqa: E402
import gevent.event  # noqa: E402

import siothread  # noqa: E402
from flask_siothread import SocketIO, join_room  # noqa: E402

app = flask.Flask(__name__)
socketio = SocketIO(app)


def _whoami() -> dict:
    manager = socketio.server.manager
    return {"pid": os.getpid(), "adapter": type(manager).__name__, "servers": manager.server_count()}


@app.route("/worker")
def worker():
    return flask.jsonify(_whoami())


@socketio.on("whoami")
def whoami():
    return _whoami()


@socketio.on("join")
def join(room):
    join_room(room)
    return True


@socketio.on("shout")
def shout(room, message):
    socketio.emit("news", message, to=room)
    return True


@socketio.on("poll_room")
def poll_room(room):
    result = socketio.server.to(room).timeout(3).call("question", "who are you?")
    return {"responses": result.responses, "timed_out": sorted(result.timed_out)}


@socketio.on("count")
def count(room):
    return sorted(s.id for s in socketio.server.fetch_sockets(room))


@socketio.on("tell_servers")
def tell_servers():
    done = gevent.event.AsyncResult()
    socketio.server.server_side_emit("which_pid", callback=done.set)
    return sorted(done.get(timeout=5))


@socketio.server.on_server_event("which_pid")
def which_pid():
    return os.getpid()


@socketio.on("kick")
def kick(room):
    socketio.server.disconnect_sockets(to=room)
    return True


if __name__ == "__main__":
    siothread.serve(app, "127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]), shutdown_timeout=3.0)
