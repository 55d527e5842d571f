"""Room and broadcast backends: the :class:`Adapter` interface and the in-process :class:`MemoryManager`."""
from .base import Adapter, BroadcastOptions, SocketDetails
from .memory import MemoryManager

__all__ = ["Adapter", "BroadcastOptions", "SocketDetails", "MemoryManager"]
