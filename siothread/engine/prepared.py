"""Messages encoded once for any number of recipients.

A broadcast hands the same :class:`Prepared` to every session; each transport
takes the representation it needs (WebSocket frame bytes or long-polling
segments), built on first use and cached. The messages of one Prepared always
leave in one write, so a binary Socket.IO packet (a text frame followed by its
attachments) can never interleave with another sender's frames.
"""
from __future__ import annotations

from base64 import b64encode
from typing import List, Optional, Sequence, Union

from ..protocol import websocket as wsproto

__all__ = ["Prepared"]

Message = Union[str, bytes]


class Prepared:
    """Engine.IO MESSAGE payloads ready to be sent to many sessions."""

    __slots__ = ("messages", "compress", "_frames", "_segments", "nbytes")

    def __init__(self, messages: Sequence[Message], *, compress: bool = True) -> None:
        self.messages = tuple(messages)
        self.compress = compress
        self._frames: Optional[bytes] = None
        self._segments: Optional[List[str]] = None
        self.nbytes = sum(len(m) for m in self.messages)

    @property
    def count(self) -> int:
        return len(self.messages)

    def frames(self) -> bytes:
        """Unmasked, uncompressed server WebSocket frames for every message, concatenated."""
        frames = self._frames
        if frames is None:
            parts = []
            for m in self.messages:
                if isinstance(m, str):
                    parts.append(wsproto.encode_text("4" + m))
                else:
                    parts.append(wsproto.encode_binary(bytes(m)))
            frames = self._frames = b"".join(parts)
        return frames

    def segments(self) -> List[str]:
        """Long-polling payload segments (``4text`` or ``b<base64>``)."""
        segments = self._segments
        if segments is None:
            segments = self._segments = [
                "4" + m if isinstance(m, str) else "b" + b64encode(m).decode("ascii")
                for m in self.messages
            ]
        return segments
