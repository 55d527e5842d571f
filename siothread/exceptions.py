"""python-socketio's exception names (``socketio.exceptions``), mapped onto siothread's tree.

``import siothread as socketio`` keeps ``socketio.exceptions.ConnectionError``
and friends working. :class:`SocketIOError` is :class:`siothread.errors.SiothreadError`,
so it also catches siothread's protocol and adapter errors.
"""
from .errors import BadNamespaceError, ConnectionError, ConnectionRefusedError, DisconnectedError, TimeoutError
from .errors import SiothreadError as SocketIOError

__all__ = ["SocketIOError", "ConnectionError", "ConnectionRefusedError", "TimeoutError", "BadNamespaceError",
           "DisconnectedError"]
