"""siothread: a Socket.IO v5 / Engine.IO v4 server for WSGI on gevent.

Use it like python-socketio (``import siothread as socketio``)::

    sio = siothread.Server()
    app = siothread.WSGIApp(sio, flask_app)
    siothread.serve(app, host="127.0.0.1", port=5000)
"""
from . import engine, errors
from .errors import ConnectionRefusedError, DisconnectedError, TimeoutError
from .serving import make_server, serve
from .wsgi import WSGIApp

__all__ = [
    "engine",
    "errors",
    "WSGIApp",
    "serve",
    "make_server",
    "ConnectionRefusedError",
    "DisconnectedError",
    "TimeoutError",
]
__version__ = "0.1.0"
