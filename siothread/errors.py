"""The one exception tree of siothread.

Every error the library raises on purpose derives from :class:`SiothreadError`.
Protocol errors say whose fault they are (:class:`RemoteProtocolError`: the peer
sent something invalid; :class:`LocalProtocolError`: our own code misused the
API) and carry what to answer with, so that a transport can map an error to a
response mechanically instead of guessing: the Engine.IO error code and HTTP
status for long-polling, the WebSocket close code for WebSocket.

The codec's only failure mode on bad input is :class:`RemoteProtocolError`; the
fuzz tests assert exactly that.
"""
from __future__ import annotations

import enum
from typing import Any, Optional

__all__ = [
    "SiothreadError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "EngineErrorCode",
    "CloseCode",
    "ConnectionRefusedError",
    "ConnectionError",
    "TimeoutError",
    "DisconnectedError",
    "BadNamespaceError",
    "AdapterError",
    "QueueFullError",
    "peer_error",
]


class EngineErrorCode(enum.IntEnum):
    """Engine.IO handshake error codes (engine.io ``lib/server.ts`` ``Server.errors``).

    Never test one of these for truthiness: ``UNKNOWN_TRANSPORT`` is 0
    (CVE-2023-31125 came from exactly that mistake).
    """

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5

    @property
    def message(self) -> str:
        """The fixed text engine.io sends with this code (never echoes input)."""
        return _ENGINE_ERROR_MESSAGES[self]


_ENGINE_ERROR_MESSAGES = {
    EngineErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    EngineErrorCode.UNKNOWN_SID: "Session ID unknown",
    EngineErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    EngineErrorCode.BAD_REQUEST: "Bad request",
    EngineErrorCode.FORBIDDEN: "Forbidden",
    EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class CloseCode(enum.IntEnum):
    """WebSocket close codes used by siothread (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005
    ABNORMAL = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011


class SiothreadError(Exception):
    """Base class of every error siothread raises on purpose."""


class ProtocolError(SiothreadError):
    """A violation of the Engine.IO, Socket.IO or WebSocket protocol.

    Abstract: raise :class:`RemoteProtocolError` or :class:`LocalProtocolError`.

    Attributes:
        engine_code: the Engine.IO error code to report on an HTTP request.
        http_status: the HTTP status to answer a polling request with.
        close_code: the WebSocket close code to close with.
    """

    def __init__(
        self,
        message: str,
        *,
        engine_code: EngineErrorCode = EngineErrorCode.BAD_REQUEST,
        http_status: Optional[int] = None,
        close_code: int = CloseCode.PROTOCOL_ERROR,
    ) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise RemoteProtocolError or LocalProtocolError")
        super().__init__(message)
        self.message = message
        self.engine_code = engine_code
        if http_status is None:
            # A message over a size cap is 413 on HTTP, whatever layer noticed it.
            http_status = 413 if close_code == CloseCode.MESSAGE_TOO_BIG else 400
        self.http_status = http_status
        self.close_code = int(close_code)


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow; its session ends."""


def peer_error(message: str, close_code: int = CloseCode.PROTOCOL_ERROR) -> "RemoteProtocolError":
    """The codec's error for invalid peer input: Engine.IO "Bad request", with the WebSocket
    close code to use (and HTTP 413 when that code is MESSAGE_TOO_BIG)."""
    return RemoteProtocolError(message, close_code=close_code)


class LocalProtocolError(ProtocolError):
    """Our side tried to do something the protocol does not allow (a bug or misuse)."""


class ConnectionError(SiothreadError):
    """A client could not connect; ``message`` and ``data`` come from the server when it refused."""

    def __init__(self, message: str = "Connection error", data: Optional[Any] = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConnectionRefusedError(ConnectionError):
    """Raised by a connect handler or middleware to refuse a Socket.IO connection.

    A :class:`ConnectionError`, as in python-socketio's exception tree.

    The client receives a CONNECT_ERROR packet ``{"message": message, "data": data}``
    (Node's ``next(err)`` with ``err.data``). With several positional data
    arguments, ``data`` is their list, like python-socketio.
    """

    def __init__(self, *args: Any) -> None:
        message = str(args[0]) if args else "Connection rejected by server"
        data: Any = None
        if len(args) == 2:
            data = args[1]
        elif len(args) > 2:
            data = list(args[1:])
        super().__init__(message, data)

    def error_args(self) -> dict[str, Any]:
        """The CONNECT_ERROR payload for this refusal."""
        payload: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            payload["data"] = self.data
        return payload


class TimeoutError(SiothreadError):
    """An acknowledgement or a wait did not complete before its deadline."""


class DisconnectedError(SiothreadError):
    """The peer went away (or the server shut down) while something waited for it."""


class BadNamespaceError(DisconnectedError):
    """A client emitted to a namespace it is not connected to (python-socketio's name).

    A :class:`DisconnectedError` too, so ``except DisconnectedError`` keeps catching it.
    """


class AdapterError(SiothreadError):
    """The cluster adapter could not carry out a request."""


class QueueFullError(SiothreadError):
    """A session's bounded outbound queue overflowed under the ``disconnect`` policy."""
