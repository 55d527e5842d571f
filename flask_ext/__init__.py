"""flask_siothread: Socket.IO for Flask on siothread, with Flask-SocketIO's API.

Migrating from Flask-SocketIO is a change of import::

    from flask_siothread import SocketIO, emit, join_room

    socketio = SocketIO(app)

    @socketio.on("chat")
    def chat(message):
        emit("chat", message, to=message["room"])

    if __name__ == "__main__":
        socketio.run(app)

See ``docs/flask.md`` for the deliberate differences, sessions, testing and deployment.
"""
from siothread.errors import ConnectionRefusedError

from ._extension import SocketIO
from ._helpers import call, close_room, disconnect, emit, join_room, leave_room, rooms, send
from .namespace import Namespace
from .testing import SocketIOTestClient

__all__ = ["SocketIO", "Namespace", "SocketIOTestClient", "ConnectionRefusedError", "emit", "send", "call",
           "join_room", "leave_room", "close_room", "rooms", "disconnect"]
