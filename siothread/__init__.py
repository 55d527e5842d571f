"""siothread: a Socket.IO v5 / Engine.IO v4 server for WSGI on gevent.

Use it like python-socketio (``import siothread as socketio``)::

    sio = siothread.Server()
    app = siothread.WSGIApp(sio, flask_app)
    siothread.serve(app, host="127.0.0.1", port=5000)
"""
from . import engine, errors
from .adapters import Adapter, BroadcastOptions, MemoryManager
from .errors import ConnectionRefusedError, DisconnectedError, TimeoutError
from .server import BroadcastAckResult, BroadcastOperator, HandlerInfo, Namespace, RemoteSocket, Server, reason
from .serving import make_server, serve
from .wsgi import WSGIApp

__all__ = [
    "engine",
    "errors",
    "Server",
    "Namespace",
    "BroadcastAckResult",
    "BroadcastOperator",
    "RemoteSocket",
    "HandlerInfo",
    "reason",
    "Adapter",
    "BroadcastOptions",
    "MemoryManager",
    "WSGIApp",
    "serve",
    "make_server",
    "Client",
    "SimpleClient",
    "ConnectionRefusedError",
    "DisconnectedError",
    "TimeoutError",
]
__version__ = "0.1.0"


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    # The client pulls in requests and websocket-client (the "client" extra); load it on first use
    # so a server-only install never imports them.
    if name in ("Client", "SimpleClient"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'siothread' has no attribute {name!r}")
