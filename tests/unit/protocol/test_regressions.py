"""Row C5 of the robustness plan: every fixed advisory / observed gap, one test id per row.

Each row names its source (CVE / GHSA, socket.io-parser test, or the gap G<n>
observed in python-socketio). Expected: a RemoteProtocolError with the listed
close code, the decoder left clean (no partial packet) and usable again.
"""
from __future__ import annotations

import gc
import time
from typing import Callable, List, NamedTuple, Optional, Union

import pytest

from siothread.errors import CloseCode, RemoteProtocolError
from siothread.protocol import engineio
from siothread.protocol.socketio import Decoder, Limits, Packet, PacketType

PROTO = CloseCode.PROTOCOL_ERROR
DATA = CloseCode.INVALID_DATA


def placeholder(num: str) -> str:
    return '51-["up",{"_placeholder":true,"num":%s}]' % num


class Row(NamedTuple):
    messages: List[Union[str, bytes, object]]
    close_code: int
    match: Optional[str] = None
    role: str = "server"


ROWS = {
    # CVE-2023-32695: first element must be a string
    "CVE-2023-32695-event-name-object": Row(['2[{"toString":"foo"}]'], PROTO, "event name"),
    "parser-test-event-name-true": Row(['2[true,"foo"]'], PROTO, "event name"),
    "parser-test-event-name-null": Row(['2[null,"bar"]'], PROTO, "event name"),
    # socket.io-parser 4.2.4 reserved names; G1 (python-socketio ran connect/disconnect handlers)
    "d9db473-reserved-connect": Row(['2["connect"]'], PROTO, "reserved"),
    "G1-reserved-connect-with-fake-environ": Row(
        ['2["connect",{"REMOTE_ADDR":"10.0.0.1"},{"token":"x"}]'], PROTO, "reserved"
    ),
    "d9db473-reserved-disconnect": Row(['2["disconnect","x"]'], PROTO, "reserved"),
    "d9db473-reserved-connect_error": Row(['2["connect_error"]'], PROTO, "reserved"),
    "CVE-2024-38355-reserved-error": Row(['2["error"]'], PROTO, "reserved"),
    # wrong payload per packet type (socket.io-parser isPayloadValid)
    "parser-test-connect-array": Row(["0[]"], PROTO, "CONNECT"),
    "parser-test-disconnect-payload": Row(["1/admin,{}"], PROTO, "DISCONNECT"),
    "parser-test-unterminated-json": Row(['2["some","data"'], DATA, "JSON"),
    "parser-test-unterminated-json-type-4": Row(['42["some","data"'], DATA, "JSON"),
    # G6: python-socketio dispatched these or crashed with KeyError/TypeError/IndexError
    "G6-event-object": Row(["2{}"], PROTO, "EVENT"),
    "G6-event-no-payload": Row(["2"], PROTO, "EVENT"),
    "G6-event-empty-array": Row(["2[]"], PROTO, "EVENT"),
    "G6-event-string": Row(['2"abc"'], PROTO, "EVENT"),
    # attachment counts (socket.io-parser "invalid attachments" tests, CVE-2026-33151, CVE-2026-69185)
    "parser-test-attachments-missing": Row(["5"], PROTO, "illegal attachments"),
    "parser-test-attachments-no-dash": Row(["51"], PROTO, "illegal attachments"),
    "parser-test-attachments-letter": Row(["5a-"], PROTO, "illegal attachments"),
    "parser-test-attachments-decimal": Row(["51.23-"], PROTO, "illegal attachments"),
    "CVE-2026-69185-zero-attachments": Row(['50-["up",1]'], PROTO, "illegal attachments"),
    "CVE-2026-33151-eleven-attachments": Row(['511-["up"]'], PROTO, "too many"),
    "G2-huge-attachment-count": Row(['5999999999-["up"]'], PROTO, "too many"),
    "attachments-unicode-digits": Row(['5\u0661-["up"]'], PROTO, "illegal attachments"),
    "attachments-digit-run": Row(["5" + "1" * 1000 + "-[]"], PROTO, "illegal attachments"),
    "attachments-negative": Row(['5-1-["up"]'], PROTO, "illegal attachments"),
    # CVE-2022-2421 and G5: placeholders
    "CVE-2022-2421-num-splice": Row([placeholder('"splice"')], PROTO, "placeholder"),
    "G5-num-negative": Row([placeholder("-1")], PROTO, "placeholder"),
    "G5-num-float": Row([placeholder("1.5")], PROTO, "placeholder"),
    "G5-num-null": Row([placeholder("null")], PROTO, "placeholder"),
    "G5-num-out-of-range": Row([placeholder("1")], PROTO, "out of range"),
    "num-bool": Row([placeholder("true")], PROTO, "placeholder"),
    "placeholder-flag-string": Row(['51-["up",{"_placeholder":"true","num":0}]'], PROTO, "placeholder"),
    "placeholder-extra-key": Row(['51-["up",{"_placeholder":true,"num":0,"x":1}]'], PROTO, "placeholder"),
    "placeholder-as-event-name": Row(['51-[{"_placeholder":true,"num":0}]'], PROTO, "event name"),
    # G3 / b5d0cb7: text while reconstructing; binary when not reconstructing
    "G3-text-while-awaiting-attachments": Row([placeholder("0"), '2["x"]'], PROTO, "waiting"),
    "G4-binary-when-none-expected": Row([b"\x01\x02"], PROTO, "no attachment"),
    "binary-after-complete-packet": Row([placeholder("0"), b"a", b"b"], PROTO, "no attachment"),
    # ack ids (socket.io-protocol test suite "invalid ack id"; python-socketio "id field is too long")
    "suite-ack-id-letters": Row(['2abc["x"]'], DATA, "JSON"),
    "101-digit-ack-id": Row(["2" + "1" * 101 + '["x"]'], PROTO, "too long"),
    "17-digit-ack-id": Row(["2" + "1" * 17 + '["x"]'], PROTO, "too long"),
    "ack-id-above-2**53-1": Row(['29007199254740992["x"]'], PROTO, "out of range"),
    "ack-id-on-connect": Row(['05{"a":1}'], PROTO, "ack id"),
    "ack-without-id": Row(["3[]"], PROTO, "ACK"),
    # unknown packet types (parser test "999", suite "4abc")
    "parser-test-type-999": Row(["999"], PROTO, "unknown packet type"),
    "suite-type-abc": Row(["abc"], PROTO, "unknown packet type"),
    "type-7": Row(["7"], PROTO, "unknown packet type"),
    "empty-message": Row([""], PROTO, "empty"),
    # G7: nesting and number limits
    "G7-json-nested-10k": Row(['2["x",' + "[" * 10_000 + "]" * 10_000 + "]"], DATA, "deeply"),
    "G7-json-unclosed-100k": Row(['2["x",' + "[" * 100_000], DATA, "deeply"),
    "dd1db2e-5000-digit-integer": Row(['2["x",' + "9" * 5000 + "]"], DATA, "integer"),
    "NaN": Row(['2["x",NaN]'], DATA, None),
    "Infinity": Row(['2["x",-Infinity]'], DATA, None),
    "float-overflow": Row(['2["x",1e999]'], DATA, "range"),
    # namespaces
    "namespace-without-slash": Row(['2admin,["x"]'], DATA, "JSON"),
    "namespace-10kb": Row(["0/" + "a" * 10_000 + ","], PROTO, "namespace too long"),
    "namespace-10kb-no-comma": Row(["0/" + "a" * 10_000], PROTO, "namespace too long"),
    "namespace-control-char": Row(['2/a\x1eb,["x"]'], PROTO, "namespace"),
    "namespace-nul": Row(["0/a\x00,"], PROTO, "namespace"),
    "namespace-lone-surrogate": Row(["0/\ud800,"], PROTO, "namespace"),
    # lone surrogates
    "lone-surrogate-escaped": Row(['2["x","\\ud800"]'], DATA, "surrogate"),
    "lone-surrogate-escaped-key": Row(['2["x",{"\\udfff":1}]'], DATA, "surrogate"),
    "lone-surrogate-raw": Row(['2["x","\ud800"]'], DATA, "surrogate"),
    "lone-surrogate-event-name": Row(['2["\\ud83d"]'], DATA, "surrogate"),
    # non-string input (parser test "non-string input")
    "input-none": Row([None], PROTO, "str or bytes"),
    "input-int": Row([42], PROTO, "str or bytes"),
    "input-list": Row([["2"]], PROTO, "str or bytes"),
    # CONNECT_ERROR only flows server -> client
    "connect-error-from-client": Row(['4{"message":"x"}'], PROTO, "CONNECT_ERROR"),
    # a client must get a sid in CONNECT (v2 servers do not send one)
    "client-connect-without-sid": Row(["0"], PROTO, "sid", role="client"),
    "client-reserved-event": Row(['2["disconnect"]'], PROTO, "reserved", role="client"),
}


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_socketio_regression(row: Row) -> None:
    decoder = Decoder(role=row.role)
    *head, last = row.messages
    for message in head:  # accepted: a header awaiting attachments, or a whole packet
        decoder.feed(message)  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(last)  # type: ignore[arg-type]
    error = info.value
    assert error.close_code == row.close_code
    assert error.http_status == 400
    assert int(error.engine_code) == 3  # BAD_REQUEST
    if row.match is not None:
        assert row.match in error.message
    # the decoder is clean and usable again
    assert not decoder.awaiting_attachments
    expected = Packet(PacketType.EVENT, "/", ["ok", 1])
    assert decoder.feed('2["ok",1]') == expected


EIO_ROWS = {
    "eio-empty-packet": ("", engineio.decode_packet, "empty packet"),
    "eio-type-7": ("7", engineio.decode_packet, "unknown packet type"),
    "eio-type-letter": ("x", engineio.decode_packet, "unknown packet type"),
    "eio-invalid-base64": ("4a\x1ebAQID*A==", engineio.decode_payload, "base64"),
    "eio-base64-non-ascii": ("b\u00e9", engineio.decode_payload, "base64"),
    "eio-base64-bad-padding": ("bAQI", engineio.decode_payload, "base64"),
    "eio-17-packets": ("\x1e".join(["4x"] * 17), lambda b: engineio.decode_payload(b, max_packets=16), "too many"),
    "eio-empty-segment-middle": ("4a\x1e\x1e4b", engineio.decode_payload, "empty packet"),
    "eio-empty-segment-leading": ("\x1e4a", engineio.decode_payload, "empty packet"),
    "eio-empty-segment-trailing": ("4a\x1e", engineio.decode_payload, "empty packet"),
    "eio-empty-body": ("", engineio.decode_payload, "empty packet"),
    "eio-invalid-utf8-body": (b"4\xff", engineio.decode_payload, "UTF-8"),
    "eio-ws-text-empty-segment": ("4a\x1e", engineio.decode_ws_text, "empty packet"),
    "eio-non-str": (None, engineio.decode_packet, "str or bytes"),
}


@pytest.mark.parametrize("body, decoder, match", list(EIO_ROWS.values()), ids=list(EIO_ROWS))
def test_engineio_regression(body: object, decoder: Callable[[object], object], match: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decoder(body)
    assert match in info.value.message
    assert info.value.close_code == CloseCode.PROTOCOL_ERROR


def test_engineio_16_packets_is_fine() -> None:
    assert len(engineio.decode_payload("\x1e".join(["4x"] * 16), max_packets=16)) == 16


# -------------------------------------------------------------------- linear time (CVE-2020-36049)

_WIDE = Limits(max_namespace_length=10_000_000, max_event_name_length=10_000_000, max_int_digits=10_000)

ADVERSARIAL = {
    "ack-digit-run": (lambda n: "2" + "1" * n, Limits()),
    "attachment-digit-run": (lambda n: "5" + "1" * n, Limits()),
    "namespace-run": (lambda n: "2/" + "a" * n, Limits()),
    "namespace-run-no-cap": (lambda n: "2/" + "a" * n + ',["x"]', _WIDE),
    "event-name-no-cap": (lambda n: '2["' + "e" * n + '"]', _WIDE),
    "deep-brackets": (lambda n: '2["x",' + "[" * n, Limits()),
    "balanced-64-deep-blocks": (lambda n: '2["x",' + ",".join(["[" * 63 + "]" * 63] * (n // 127)) + "]", Limits()),
    "brackets-in-strings": (lambda n: '2["x","' + "[" * n + '"]', Limits()),
    "escapes": (lambda n: '2["x","' + '\\\\\\"' * (n // 4) + '"]', Limits()),
    "many-placeholders": (
        lambda n: '51-["x",' + ",".join(['{"_placeholder":true,"num":0}'] * (n // 30)) + "]",
        Limits(),
    ),
    "many-small-ints": (lambda n: '2["x",' + ",".join(["1"] * (n // 2)) + "]", Limits()),
    "long-ints": (lambda n: '2["x",' + ",".join(["9" * 100] * (n // 101)) + "]", Limits()),
    "long-ints-no-cap": (lambda n: '2["x",' + ",".join(["9" * 4000] * (n // 4001)) + "]", _WIDE),
}


def _decode_time(text: str, limits: Limits) -> float:
    # The cyclic GC is paused while timing: a full collection walks every live
    # container, so building 500k lists costs more than linear time in any
    # parser (json.loads included); what is measured here is our own work.
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            decoder = Decoder(limits)
            start = time.perf_counter()
            try:
                decoder.feed(text)
            except RemoteProtocolError:
                pass
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("make, limits", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_decoding_time_is_linear(make: Callable[[int], str], limits: Limits) -> None:
    small, large = make(250_000), make(1_000_000)
    t_small, t_large = _decode_time(small, limits), _decode_time(large, limits)
    # 4x the input may cost 4x the time; allow generous noise, never quadratic (16x).
    assert t_large < 10 * t_small + 0.05, (t_small, t_large)
    assert t_large < 2.0
