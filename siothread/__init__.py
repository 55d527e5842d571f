"""siothread: a Socket.IO v5 / Engine.IO v4 server for WSGI on gevent.

Use it like python-socketio (``import siothread as socketio``)::

    sio = siothread.Server()
    app = siothread.WSGIApp(sio, flask_app)
    siothread.serve(app, host="127.0.0.1", port=5000)

The package root loads its layers on first use, so that importing the pure
codec (``siothread.protocol``) never imports gevent or the network, and a
server-only install never imports the client's dependencies.
"""
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ConnectionRefusedError, DisconnectedError, TimeoutError

__version__ = "0.1.0"

#: public name -> (module, attribute); attribute None means the module itself
_LAZY = {
    "engine": ("siothread.engine", None),
    "exceptions": ("siothread.exceptions", None),
    "Server": ("siothread.server", "Server"),
    "Namespace": ("siothread.server", "Namespace"),
    "BroadcastAckResult": ("siothread.server", "BroadcastAckResult"),
    "BroadcastOperator": ("siothread.server", "BroadcastOperator"),
    "RemoteSocket": ("siothread.server", "RemoteSocket"),
    "HandlerInfo": ("siothread.server", "HandlerInfo"),
    "reason": ("siothread.server", "reason"),
    "Adapter": ("siothread.adapters", "Adapter"),
    "BroadcastOptions": ("siothread.adapters", "BroadcastOptions"),
    "MemoryManager": ("siothread.adapters", "MemoryManager"),
    "RedisManager": ("siothread.adapters.redis_pubsub", "RedisManager"),
    "ShardedRedisManager": ("siothread.adapters.redis_sharded", "ShardedRedisManager"),
    "RedisEmitter": ("siothread.adapters.emitter", "RedisEmitter"),
    "RedisStreamsManager": ("siothread.adapters.redis_streams", "RedisStreamsManager"),
    "WSGIApp": ("siothread.wsgi", "WSGIApp"),
    "Middleware": ("siothread.wsgi", "Middleware"),
    "serve": ("siothread.serving", "serve"),
    "make_server": ("siothread.serving", "make_server"),
    "Client": ("siothread.client", "Client"),
    "SimpleClient": ("siothread.client", "SimpleClient"),
    "ClientNamespace": ("siothread.client", "ClientNamespace"),
}

__all__ = sorted(["errors", "ConnectionRefusedError", "DisconnectedError", "TimeoutError", *_LAZY])


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'siothread' has no attribute {name!r}") from None
    module = import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from . import engine, exceptions
    from .adapters import Adapter, BroadcastOptions, MemoryManager
    from .adapters.emitter import RedisEmitter
    from .adapters.redis_pubsub import RedisManager
    from .adapters.redis_sharded import ShardedRedisManager
    from .adapters.redis_streams import RedisStreamsManager
    from .client import Client, ClientNamespace, SimpleClient
    from .server import (BroadcastAckResult, BroadcastOperator, HandlerInfo, Namespace, RemoteSocket, Server,
                         reason)
    from .serving import make_server, serve
    from .wsgi import Middleware, WSGIApp
