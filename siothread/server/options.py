"""The Socket.IO-level options of :class:`~siothread.server.Server`: checks, recovery, serializer.

Every option is checked once, when the server is made, so a wrong value fails
there with a clear error instead of at the first connection.
"""
from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional

from ..adapters.base import RecoveryOptions
from ..protocol import socketio as sioproto

__all__ = ["check_options", "recovery_options", "Serializer", "make_serializer"]

_Packet = sioproto.Packet
_P_EVENT = sioproto.PacketType.EVENT
_P_ACK = sioproto.PacketType.ACK


def check_options(*, connect_timeout: float, attachment_timeout: float, max_namespaces: int, max_auth_size: int,
                  max_queued_events: int, max_queued_bytes: Optional[int], namespaces: Any) -> None:
    """Raise ValueError / TypeError for an option the server cannot work with."""
    if not connect_timeout > 0:
        raise ValueError("connect_timeout must be > 0")
    if not attachment_timeout > 0:
        raise ValueError("attachment_timeout must be > 0")
    if not isinstance(max_namespaces, int) or max_namespaces < 1:
        raise ValueError("max_namespaces must be an integer >= 1")
    if not isinstance(max_auth_size, int) or max_auth_size < 2:
        raise ValueError("max_auth_size must be an integer >= 2")
    if not isinstance(max_queued_events, int) or isinstance(max_queued_events, bool) or max_queued_events < 2:
        raise ValueError("max_queued_events must be an integer >= 2")
    if max_queued_bytes is not None and (not isinstance(max_queued_bytes, int) or max_queued_bytes < 1):
        raise ValueError("max_queued_bytes must be a positive integer")
    if namespaces is not None and namespaces != "*":
        if isinstance(namespaces, str) or not all(isinstance(n, str) for n in namespaces):
            raise TypeError("namespaces must be None, '*' or a list of namespace names")


def recovery_options(value: Any) -> Optional[RecoveryOptions]:
    """The ``recovery=`` option as :class:`RecoveryOptions`, or None when recovery is off."""
    if value is None or value is False:
        return None
    if value is True:
        return RecoveryOptions()
    if isinstance(value, RecoveryOptions):
        options = value
    elif isinstance(value, dict):
        unknown = set(value) - set(RecoveryOptions.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown recovery option(s): {', '.join(sorted(unknown))}")
        options = RecoveryOptions(**value)
    else:
        raise TypeError("recovery must be None, True or a dict")
    if not options.max_disconnection_duration > 0:
        raise ValueError("recovery max_disconnection_duration must be > 0")
    for name in ("max_stored_packets", "max_sessions"):
        number = getattr(options, name)
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError(f"recovery {name} must be an integer >= 1")
    return RecoveryOptions(float(options.max_disconnection_duration), bool(options.skip_middlewares),
                           options.max_stored_packets, options.max_sessions)


class Serializer(NamedTuple):
    """How the server encodes packets and makes a decoder per connection."""

    encode: Callable[[Any], List[Any]]
    #: ``encode_event(namespace, data, ack_id)``: what sending an event costs most of the time
    encode_event: Callable[[str, List[Any], Optional[int]], List[Any]]
    #: ``encode_ack(namespace, data, ack_id)``
    encode_ack: Callable[[str, List[Any], int], List[Any]]
    new_decoder: Callable[[], Any]


def make_serializer(serializer: Any, json_module: Any, limits: sioproto.Limits) -> Serializer:
    """``'default'`` (JSON, optionally with ``json_module``), ``'msgpack'``, or a codec module."""
    if serializer == "default":
        dumps = getattr(json_module, "dumps", None) if json_module is not None else None
        loads = getattr(json_module, "loads", None) if json_module is not None else None
        if json_module is not None and (dumps is None or loads is None):
            raise TypeError("json must provide dumps() and loads()")

        def new_decoder() -> Any:
            return sioproto.Decoder(limits, role="server", loads=loads)

        if dumps is None:
            # no Packet is built for events and acks (test_socketio_fast_paths.py::
            # test_encode_event_and_ack_agree_with_encode keeps them equal to encode)
            return Serializer(sioproto.encode, sioproto.encode_event, sioproto.encode_ack, new_decoder)

        def encode(packet: Any, _enc: Any = sioproto.encode, _d: Any = dumps) -> List[Any]:
            return _enc(packet, dumps=_d)  # type: ignore[no-any-return]
    elif serializer == "msgpack":
        from ..protocol import msgpack_codec

        encode = msgpack_codec.encode

        def new_decoder() -> Any:
            return msgpack_codec.Decoder(limits, role="server")
    elif hasattr(serializer, "encode") and hasattr(serializer, "Decoder"):
        encode = serializer.encode

        def new_decoder() -> Any:
            return serializer.Decoder(limits, role="server")
    else:
        raise ValueError("serializer must be 'default', 'msgpack' or a codec module")

    def encode_event(namespace: str, data: List[Any], ack_id: Optional[int] = None) -> List[Any]:
        return encode(_Packet(_P_EVENT, namespace, data, ack_id))

    def encode_ack(namespace: str, data: List[Any], ack_id: int) -> List[Any]:
        return encode(_Packet(_P_ACK, namespace, data, ack_id))

    return Serializer(encode, encode_event, encode_ack, new_decoder)
