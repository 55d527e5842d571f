"""The Socket.IO v5 server layer: :class:`Server`, class-based :class:`Namespace`, broadcast helpers."""
from .acks import BroadcastAckResult
from .broadcast import BroadcastOperator, RemoteSocket
from .middleware import HandlerInfo
from .namespace import Namespace
from .reasons import reason
from .server import Server

__all__ = ["Server", "Namespace", "BroadcastAckResult", "BroadcastOperator", "RemoteSocket", "HandlerInfo", "reason"]
