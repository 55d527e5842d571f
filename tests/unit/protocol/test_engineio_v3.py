"""The Engine.IO v3 payload codec: tables, Node's engine.io-parser 2.2 both ways, properties.

The reference is engine.io-parser 2.2.1 as socket.io-client 2.5.0 installs it
(tests/js/node_modules/socket.io-client-v2); Node's engine.io server keeps the
same code as ``lib/parser-v3``.
"""
from __future__ import annotations

import json
import subprocess
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siothread.errors import RemoteProtocolError
from siothread.protocol import engineio_v3 as v3
from siothread.protocol.engineio import Packet, PacketType

T = PacketType
M = T.MESSAGE


@pytest.mark.parametrize("packets, text", [
    ([], "0:"),
    ([Packet(T.OPEN, '{"sid":"x"}')], '12:0{"sid":"x"}'),
    ([Packet(T.PONG), Packet(M, "hi")], "1:33:4hi"),
    ([Packet(M, "😀")], "3:4😀"),  # one character, two UTF-16 code units
    ([Packet(M, "é")], "2:4é"),
    ([Packet(M, b"\x00\xff")], "6:b4AP8="),
    ([Packet(T.NOOP), Packet(M, "a\x1eb")], "1:64:4a\x1eb"),
])
def test_text_payload_table(packets: List[Packet], text: str) -> None:
    assert v3.encode_text_payload(packets) == text
    if packets:
        assert v3.decode_payload(text) == packets
        assert v3.decode_payload(text.encode("utf-8")) == packets


@pytest.mark.parametrize("packets, raw", [
    ([Packet(M, "hi")], b"\x00\x03\xff4hi"),
    ([Packet(M, b"\x01\x02")], b"\x01\x03\xff\x04\x01\x02"),
    ([Packet(M, "é"), Packet(M, b"")], b"\x00\x03\xff4\xc3\xa9\x01\x01\xff\x04"),
    ([Packet(M, "x" * 9)], b"\x00\x01\x00\xff4" + b"x" * 9),
])
def test_binary_payload_table(packets: List[Packet], raw: bytes) -> None:
    assert v3.encode_binary_payload(packets) == raw
    assert v3.decode_payload(raw, binary=True) == packets


def test_encode_payload_picks_binary_framing_only_when_useful() -> None:
    text, binary = [Packet(M, "a")], [Packet(M, "a"), Packet(M, b"b")]
    assert v3.encode_payload(text, supports_binary=True) == "2:4a"
    assert v3.encode_payload(binary, supports_binary=False) == "2:4a6:b4Yg=="
    assert v3.encode_payload(binary, supports_binary=True) == b"\x00\x02\xff4a\x01\x02\xff\x04b"


def test_ws_binary() -> None:
    assert v3.encode_ws_binary(b"ab") == b"\x04ab"
    assert v3.decode_ws_binary(b"\x04ab") == Packet(M, b"ab")
    for bad in (b"", b"ab", b"\x02ab"):
        with pytest.raises(RemoteProtocolError):
            v3.decode_ws_binary(bad)


@pytest.mark.parametrize("body", [
    "", ":", "a:4x", "3:4x", "2:4x1", "1:9", "2:b1", "4:b4!!", "01234567891:4x",
    "2:😀",  # a length that cuts the surrogate pair of one character
    "１:4",  # non-ASCII digits
])
def test_bad_text_payloads(body: str) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload(body)


@pytest.mark.parametrize("body", [
    b"", b"\x02\x01\xff4", b"\x00\xff4", b"\x00\x01", b"\x00\x05\xff4", b"\x00\x0a\xff4",
    b"\x00" + b"\x01" * 11 + b"\xff", b"\x01\x01\xff\x03", b"\x00\x02\xff4\xff", b"\x00\x00\xff",
])
def test_bad_binary_payloads(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload(body, binary=True)


def test_packet_cap() -> None:
    assert len(v3.decode_payload("1:6" * 3, max_packets=3)) == 3
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload("1:6" * 4, max_packets=3)
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload(b"\x00\x01\xff6" * 4, binary=True, max_packets=3)


# ------------------------------------------------------------------ Node's engine.io-parser 2.2

NODE = r"""
const path = require("path");
const v2 = path.dirname(require.resolve("socket.io-client-v2"));
const parser = require(require.resolve("engine.io-parser", { paths: [v2] }));
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const revive = (p) => (p.bin !== undefined ? { type: p.type, data: Buffer.from(p.bin, "hex") } : p);
const dump = (p) => (Buffer.isBuffer(p.data) ? { type: p.type, bin: p.data.toString("hex") } : p);
const decode = (data) => {
  const out = [];
  parser.decodePayload(data, (p) => { out.push(dump(p)); });
  return out;
};
const result = input.map((group) => {
  const packets = group.packets.map(revive);
  let text, binary;
  parser.encodePayload(packets, false, (t) => { text = t; });
  parser.encodePayloadAsBinary(packets, (b) => { binary = b.toString("hex"); });
  return { text, binary, fromText: decode(group.text), fromBinary: decode(Buffer.from(group.binary, "hex")) };
});
process.stdout.write(JSON.stringify(result));
"""

NAMES = {t: t.name.lower() for t in PacketType}

GROUPS = [
    [Packet(M, "hello")],
    [Packet(M, "héllo 😀 wörld"), Packet(T.PING, "probe"), Packet(M, b"\x00\x01\xfe\xff")],
    [Packet(M, b""), Packet(M, "x" * 300), Packet(T.NOOP)],
]


def _to_node(packet: Packet) -> dict:
    if isinstance(packet.data, bytes):
        return {"type": NAMES[packet.type], "bin": packet.data.hex()}
    return {"type": NAMES[packet.type]} if packet.data is None else {"type": NAMES[packet.type], "data": packet.data}


def _from_node(obj: dict) -> Packet:
    ptype = PacketType[obj["type"].upper()]
    return Packet(ptype, bytes.fromhex(obj["bin"]) if "bin" in obj else obj.get("data"))


@pytest.mark.node
def test_against_engine_io_parser_2() -> None:
    from tests.conftest import require_node_modules

    js = require_node_modules("socket.io-client-v2")
    groups = [{"packets": [_to_node(p) for p in g], "text": v3.encode_text_payload(g),
               "binary": v3.encode_binary_payload(g).hex()} for g in GROUPS]
    proc = subprocess.run(["node", "-e", NODE], input=json.dumps(groups), capture_output=True, text=True,
                          timeout=30, cwd=str(js), check=True)
    for group, node in zip(GROUPS, json.loads(proc.stdout)):
        assert node["text"] == v3.encode_text_payload(group)
        assert bytes.fromhex(node["binary"]) == v3.encode_binary_payload(group)
        assert [_from_node(p) for p in node["fromText"]] == group
        assert [_from_node(p) for p in node["fromBinary"]] == group


# ------------------------------------------------------------------ properties

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text_packets = st.builds(Packet, st.sampled_from(list(PacketType)), st.none() | st.text(max_size=20))
binary_packets = st.builds(Packet, st.just(M), st.binary(max_size=20))
payloads = st.lists(text_packets | binary_packets, min_size=1, max_size=8)


def _normal(packets: List[Packet]) -> List[Packet]:
    # an empty string and no data encode alike ("4"): both decode as no data
    return [Packet(p.type, None) if p.data == "" else p for p in packets]


@PROPS
@given(payloads)
def test_round_trip(packets: List[Packet]) -> None:
    assert v3.decode_payload(v3.encode_text_payload(packets)) == _normal(packets)
    assert v3.decode_payload(v3.encode_binary_payload(packets), binary=True) == _normal(packets)


@PROPS
@given(st.text(max_size=60) | st.builds(lambda p: v3.encode_text_payload(p)[:-1], payloads))
def test_text_parses_or_fails_cleanly(body: str) -> None:
    try:
        v3.decode_payload(body)
    except RemoteProtocolError:
        pass


@PROPS
@given(st.binary(max_size=60) | st.builds(lambda p: v3.encode_binary_payload(p)[:-1], payloads))
def test_binary_parses_or_fails_cleanly(body: bytes) -> None:
    for binary in (True, False):
        try:
            v3.decode_payload(body, binary=binary)
        except RemoteProtocolError:
            pass


def test_empty_packets_count_towards_the_cap() -> None:
    assert v3.decode_payload("0:1:6", max_packets=2) == [Packet(PacketType.NOOP)]
    with pytest.raises(RemoteProtocolError):
        v3.decode_payload("0:" * 3, max_packets=2)
