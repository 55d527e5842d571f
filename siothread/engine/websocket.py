"""The WebSocket transport: one connection, read by its own greenlet, written without blocking.

Reading: the request greenlet that accepted the connection runs :meth:`run`:
it reads the socket in large chunks and feeds siothread's own frame parser
(size caps checked on each frame header before any payload is buffered,
unmasking and UTF-8 validation in C), so gevent-websocket's per-byte Python
loops never see a payload.

Writing: :meth:`write` is called from any greenlet (a handler, a broadcast, the
heartbeat timer in the event loop). Writes made before the writing greenlet
yields to the event loop are joined and leave in one non-blocking ``send`` when
it does (a :class:`~siothread.engine._runtime.WriteBatch`), so a handler that
drains a burst of broadcasts costs each recipient one syscall, not one per
event. Only what the kernel does not take is buffered, bounded by the session's
queue limits, and a flusher greenlet exists only while that buffer is not empty.
A write never yields, so one call's bytes are never interleaved with another's.
"""
from __future__ import annotations

import socket
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Optional

from ..errors import CloseCode, RemoteProtocolError
from ..protocol import websocket as wsproto
from ._runtime import raw_socket
from .prepared import Prepared

if TYPE_CHECKING:  # pragma: no cover
    from .owner import SessionOwner

__all__ = ["WebSocketConnection"]

_READ_SIZE = 65536
#: How long a closing connection waits for its buffer to drain and the peer's close frame.
_CLOSE_TIMEOUT = 5.0
#: After a protocol error: how long, and how many bytes, we keep discarding what the peer sends.
_LINGER_TIMEOUT = 1.0
_LINGER_BYTES = 4 * 1024 * 1024
#: Writes held for the end of a loop pass go out at once past this many bytes.
_BATCH_LIMIT = 65536


class WebSocketConnection:
    """A server-side WebSocket over a gevent socket whose opening handshake is done."""

    def __init__(
        self,
        owner: "SessionOwner",
        gsock: Any,
        prefix: bytes = b"",
        *,
        deflate: Optional[wsproto.PerMessageDeflate] = None,
    ) -> None:
        #: the engine server this connection reports to (through :class:`~.owner.SessionOwner` only)
        self.owner = owner
        self._gsock = gsock
        self._read, self._release_reader = owner.runtime.socket_reader(gsock, prefix)
        # The raw non-blocking socket under gevent's wrapper: send() on it never waits.
        # None for TLS, whose bytes must go through the wrapper (written by the flusher).
        self._raw = raw_socket(gsock)
        self._deflate = deflate
        cfg = owner.config
        self.parser = wsproto.FrameParser(
            expect_masked=True,
            max_message_size=cfg.max_http_buffer_size,
            max_fragments=cfg.max_ws_fragments,
            deflate=deflate,
        )
        # The backlog; an idle connection has none (an empty deque costs 600 bytes).
        self._buffer: Any = ()
        self.buffered_bytes = 0
        # What was written during this loop pass (None when nothing is), sent by flush_batched().
        self._batched: Optional[list] = None
        self._batched_bytes = 0
        self._write_batch = owner.runtime.write_batch() if self._raw is not None else None
        self._flusher: Any = None
        self._broken = False
        self._closing = False
        self._close_sent = False
        self._close_timer: Any = None
        #: called with each complete message (str or bytes); set by the engine server
        self.on_message: Callable[[Any], None] = lambda data: None
        #: the session this connection carries, once it carries one
        self.session: Any = None

    # -- writing ------------------------------------------------------------------
    def write_prepared(self, prepared: Prepared, volatile: bool = False) -> bool:
        if self._deflate is not None and prepared.compress:
            parts = []
            for m in prepared.messages:
                if isinstance(m, str):
                    parts.append(wsproto.encode_text("4" + m, deflate=self._deflate))
                else:
                    parts.append(wsproto.encode_binary(bytes(m), deflate=self._deflate))
            data = b"".join(parts)
        else:
            data = prepared.frames()
        return self.write(data, volatile=volatile, packets=prepared.count)

    def write_text(self, text: str) -> bool:
        """Write one Engine.IO packet given as its text encoding."""
        return self.write(wsproto.encode_text(text))

    def write_segment(self, segment: str) -> bool:
        """Write one long-polling payload segment as a WebSocket message (used by the upgrade)."""
        if segment.startswith("b"):
            from base64 import b64decode

            return self.write(wsproto.encode_binary(b64decode(segment[1:])))
        return self.write_text(segment)

    def write(self, data: bytes, *, volatile: bool = False, packets: int = 1) -> bool:
        """Send ``data`` now, or buffer what the kernel did not take. Never blocks.

        Returns False when the data was dropped (volatile while backlogged, overflow
        under the ``drop`` policy, or a broken connection).
        """
        if self._broken or self._close_sent:
            return False
        if self._buffer:
            if volatile:
                return False
            return self._enqueue(memoryview(data), packets)
        if self._raw is None:
            return self._enqueue(memoryview(data), packets)
        batched = self._batched
        if batched is None:
            self._batched = [data]
            self._batched_bytes = len(data)
            self._write_batch.add(self)  # type: ignore[union-attr]
        else:
            batched.append(data)
            self._batched_bytes += len(data)
            if self._batched_bytes >= _BATCH_LIMIT:
                self.flush_batched()
        return True

    def flush_batched(self) -> None:
        """Send what was written during this loop pass in one non-blocking ``send``.

        Called from the event loop at the end of the pass (never blocks), and
        before a close frame. What the kernel does not take becomes the backlog.
        """
        batched = self._batched
        if batched is None:
            return
        self._batched = None
        self._batched_bytes = 0
        if self._broken:
            return
        data = batched[0] if len(batched) == 1 else b"".join(batched)
        try:
            sent = self._raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._fail()
            return
        if sent < len(data):
            view = memoryview(data)[sent:]
            self._backlog().append(view)
            self.buffered_bytes += len(view)
            self._start_flusher()

    def _enqueue(self, view: memoryview, packets: int) -> bool:
        cfg = self.owner.config
        if (self.buffered_bytes + len(view) > cfg.max_queue_bytes
                or len(self._buffer) + packets > cfg.max_queue) and self.session is not None:
            return self.owner.session_overflow(self.session)
        self._backlog().append(view)
        self.buffered_bytes += len(view)
        self._start_flusher()
        return True

    def _backlog(self) -> Deque[memoryview]:
        buffer = self._buffer
        if not isinstance(buffer, deque):
            buffer = self._buffer = deque()
        return buffer

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = self.owner.runtime.spawn(self._flush)

    def _flush(self) -> None:
        try:
            while self._buffer:
                chunk = self._buffer[0]
                # Stays at the head while it is written, so concurrent writers queue behind it.
                self._gsock.sendall(chunk)
                self._buffer.popleft()
                self.buffered_bytes -= len(chunk)
            if self.session is not None:
                self.session.overflowed = False  # drained: a new overflow is a new episode
        except OSError:
            self._fail()
        finally:
            self._flusher = None
        if self._closing and not self._close_sent and not self._broken:
            self._send_close_frame(CloseCode.NORMAL)

    def _fail(self) -> None:
        """The socket broke while writing: drop the backlog and let the reader end the session."""
        self._broken = True
        if self._buffer:
            self._buffer.clear()
        self.buffered_bytes = 0
        self._shutdown()

    # -- closing ------------------------------------------------------------------
    def _send_close_frame(self, code: int, reason: str = "") -> None:
        if self._close_sent:
            return
        self.flush_batched()  # what was written before the close goes first
        self._close_sent = True
        frame = wsproto.encode_close(code, reason)
        try:
            if self._raw is not None:
                self._raw.send(frame)
            else:
                self._gsock.sendall(frame)
        except OSError:
            self._shutdown()

    def close_session_transport(self, send_close_packet: bool = True) -> None:
        """Close the WebSocket after what is buffered has gone out (server-initiated close)."""
        if self._closing:
            return
        self._closing = True
        self.flush_batched()
        if not self._buffer:
            self._send_close_frame(CloseCode.NORMAL)
        # The peer answers our close frame and the reader ends; if it never does, cut it off.
        self._close_timer = self.owner.runtime.call_later(_CLOSE_TIMEOUT, self._shutdown)

    def abort(self, code: int = CloseCode.NORMAL) -> None:
        """Close at once (a failed upgrade probe, a refused second WebSocket)."""
        self._closing = True
        self._send_close_frame(code)
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._gsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- reading ------------------------------------------------------------------
    def run(self) -> Optional[str]:
        """Read and dispatch until the connection ends; returns why it ended (a Reason), or None."""
        parser = self.parser
        read = self._read
        on_message = self.on_message
        reason: Optional[str] = None
        try:
            while True:
                try:
                    data = read(_READ_SIZE)
                except OSError:
                    reason = "transport error" if not self._closing else None
                    break
                if not data:
                    reason = "transport close"
                    break
                session = self.session
                if session is not None:
                    session.heard = True
                parser.feed(data)
                for event in parser.events():
                    kind = type(event)
                    if kind is wsproto.Message:
                        on_message(event.data)
                        on_message = self.on_message  # the upgrade swaps the handler
                    elif kind is wsproto.Ping:
                        self.write(wsproto.encode_pong(event.payload))
                    elif kind is wsproto.Close:
                        if not self._close_sent:
                            code = event.code if event.code != CloseCode.NO_STATUS else CloseCode.NORMAL
                            self._send_close_frame(code)
                        return "transport close"
        except RemoteProtocolError as exc:
            self._send_close_frame(exc.close_code)
            reason = "parse error"
            session = self.session
            if session is not None and session.ws is self:
                # The session ends now, not after the lingering close below.
                session.close(reason, notify_peer=False)
            self._linger(read)
        finally:
            self._release_reader()
            if self._close_timer is not None:
                self._close_timer.cancel()
            self._broken = True
            self._batched = None
            if self._buffer:
                self._buffer.clear()
            self.buffered_bytes = 0
            flusher = self._flusher
            if flusher is not None:
                flusher.kill(block=False)
        return reason

    def _linger(self, read: Callable[[int], bytes]) -> None:
        """Half-close, then discard what the peer still sends (bounded in time and bytes).

        Closing a socket with unread input makes the kernel answer with RST, and a peer
        that receives RST may drop our close frame unread: it would see 1006 instead of,
        say, 1009 for a message over the cap (RFC 6455 section 7.1.1: the server closes
        the TCP connection once the client has received the close frame).
        """
        try:
            self._gsock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        budget = _LINGER_BYTES
        with self.owner.runtime.Timeout(_LINGER_TIMEOUT, False):
            try:
                while budget > 0:
                    data = read(_READ_SIZE)
                    if not data:
                        break
                    budget -= len(data)
            except OSError:
                pass

    def finish(self) -> None:
        """Release the socket after :meth:`run` returned (when siothread owns the socket)."""
        self._shutdown()
        try:
            self._gsock.close()
        except OSError:
            pass
