"""Engine.IO v4 on gevent: sessions, long-polling and WebSocket transports, upgrade, heartbeat."""
from .config import EngineConfig
from .server import Reason, Server

__all__ = ["Server", "EngineConfig", "Reason"]
