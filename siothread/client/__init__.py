"""The synchronous Socket.IO client: :class:`Client` and :class:`SimpleClient`.

Works in plain threaded programs and, once gevent has monkey-patched the
process, under gevent (its threads become greenlets). Talks to any Socket.IO
v5 / Engine.IO v4 server: siothread, Node's ``socket.io`` 4.x, python-socketio.
"""
from .client import Client
from .engine import EngineClient, ProtocolConnectionError
from .namespace import ClientNamespace
from .simple import SimpleClient

__all__ = ["Client", "ClientNamespace", "SimpleClient", "EngineClient", "ProtocolConnectionError"]
