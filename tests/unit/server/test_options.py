"""siothread/server/options.py: option checks, the recovery option, serializer selection."""
import json

import pytest

from siothread.adapters.base import RecoveryOptions
from siothread.protocol import socketio as sioproto
from siothread.server.options import check_options, make_serializer, recovery_options

GOOD = dict(connect_timeout=1.0, attachment_timeout=1.0, max_namespaces=1, max_auth_size=2,
            max_queued_events=2, max_queued_bytes=None, namespaces=None)


def test_good_options_pass() -> None:
    check_options(**GOOD)
    check_options(**dict(GOOD, namespaces="*", max_queued_bytes=1))
    check_options(**dict(GOOD, namespaces=["/a", "/b"]))


@pytest.mark.parametrize("change, error", [
    (dict(connect_timeout=0), ValueError),
    (dict(attachment_timeout=-1), ValueError),
    (dict(max_namespaces=0), ValueError),
    (dict(max_namespaces=1.5), ValueError),
    (dict(max_auth_size=1), ValueError),
    (dict(max_queued_events=True), ValueError),
    (dict(max_queued_events=1), ValueError),
    (dict(max_queued_bytes=0), ValueError),
    (dict(namespaces="/chat"), TypeError),
    (dict(namespaces=["/a", 1]), TypeError),
])
def test_bad_options_are_refused_with_a_clear_error(change: dict, error: type) -> None:
    with pytest.raises(error):
        check_options(**dict(GOOD, **change))


def test_recovery_option_forms() -> None:
    assert recovery_options(None) is None and recovery_options(False) is None
    assert recovery_options(True) == RecoveryOptions()
    options = recovery_options({"max_disconnection_duration": 5, "max_sessions": 3})
    assert options is not None and options.max_disconnection_duration == 5.0 and options.max_sessions == 3
    with pytest.raises(TypeError, match="unknown recovery option"):
        recovery_options({"nope": 1})
    with pytest.raises(TypeError):
        recovery_options("yes")
    with pytest.raises(ValueError):
        recovery_options({"max_disconnection_duration": 0})
    with pytest.raises(ValueError):
        recovery_options({"max_stored_packets": True})


EVENTS = [(["ev"], None), (["ev", 1, "two", {"3": [4]}], 7), (["ev", b"\x00bin"], 2)]


@pytest.mark.parametrize("kind", ["default", "json", "msgpack", "module"])
def test_every_serializer_encodes_events_and_acks_like_its_encode(kind: str) -> None:
    from siothread.protocol import msgpack_codec

    limits = sioproto.Limits()
    serializer, json_module = {"default": ("default", None), "json": ("default", json),
                               "msgpack": ("msgpack", None), "module": (msgpack_codec, None)}[kind]
    codec = make_serializer(serializer, json_module, limits)
    for data, ack_id in EVENTS:
        event = sioproto.Packet(sioproto.PacketType.EVENT, "/ns", data, ack_id)
        assert codec.encode_event("/ns", data, ack_id) == codec.encode(event)
        if ack_id is not None:
            ack = sioproto.Packet(sioproto.PacketType.ACK, "/ns", data, ack_id)
            assert codec.encode_ack("/ns", data, ack_id) == codec.encode(ack)
        decoder = codec.new_decoder()
        decoded = [decoder.feed(m) for m in codec.encode(event)][-1]
        assert decoded == event
    assert codec.new_decoder() is not codec.new_decoder()  # one per connection


def test_bad_serializers_are_refused() -> None:
    with pytest.raises(ValueError):
        make_serializer("pickle", None, sioproto.Limits())
    with pytest.raises(TypeError):
        make_serializer("default", object(), sioproto.Limits())
