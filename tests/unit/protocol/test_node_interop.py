"""Our codecs against the reference ones: socket.io-parser and socket.io-msgpack-parser in Node.

One Node process encodes every packet of the table with the reference
encoders and decodes what we encoded; the test compares both directions.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any, List

import pytest

from siothread.protocol import msgpack_codec
from siothread.protocol.socketio import Decoder, Packet, PacketType, encode

T = PacketType
pytestmark = pytest.mark.node

SCRIPT = r"""
const { Encoder, Decoder } = require("socket.io-parser");
const msgpackParser = require("socket.io-msgpack-parser");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));

const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if ("$bin" in v) return Buffer.from(v.$bin, "hex");
    const o = {};
    for (const k of Object.keys(v)) o[k] = revive(v[k]);
    return o;
  }
  return v;
};
const dump = (v) => {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (Array.isArray(v)) return v.map(dump);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) if (v[k] !== undefined) o[k] = dump(v[k]);
    return o;
  }
  return v;
};
const packet = (p) => {
  const o = { type: p.type, nsp: p.nsp };
  if (p.data !== null) o.data = revive(p.data);
  if (p.id !== null) o.id = p.id;
  return o;
};
const out = { text: [], msgpack: [], decodedText: [], decodedMsgpack: [] };
for (const p of input.packets) {
  out.text.push(new Encoder().encode(packet(p)).map(dump));
  out.msgpack.push(Buffer.from(new msgpackParser.Encoder().encode(packet(p))[0]).toString("hex"));
}
for (const messages of input.ours) {
  const decoder = new Decoder();
  let got = null;
  decoder.on("decoded", (p) => { got = p; });
  for (const m of messages) decoder.add(typeof m === "string" ? m : Buffer.from(m.$bin, "hex"));
  out.decodedText.push(dump(got));
}
for (const hex of input.oursMsgpack) {
  const decoder = new msgpackParser.Decoder();
  let got = null;
  decoder.on("decoded", (p) => { got = p; });
  decoder.add(Buffer.from(hex, "hex"));
  out.decodedMsgpack.push(dump(got));
}
process.stdout.write(JSON.stringify(out));
"""

PACKETS: List[Packet] = [
    Packet(T.CONNECT),
    Packet(T.CONNECT, "/admin", {"token": "123", "n": [1, 2.5, None, True]}),
    Packet(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
    Packet(T.DISCONNECT, "/admin"),
    Packet(T.CONNECT_ERROR, "/", {"message": "Not authorized", "data": {"code": 7}}),
    Packet(T.EVENT, "/", ["hey", "Jude", "caf\u00e9 \U0001F600", {"a\x1eb": "\x00"}]),
    Packet(T.EVENT, "/chat", ["ev", {"deep": [b"\x01", {"x": b"\x02\x03"}]}, b"", b"\xff" * 40], 42),
    Packet(T.ACK, "/", [], 0),
    Packet(T.ACK, "/admin", ["bar", b"\x01\x02\x03\x04"], 9007199254740991),
    # (no integral floats beyond 2**64: notepack.io 2.2 encodes 1e21 as a wrapped uint64)
    Packet(T.EVENT, "/", ["numbers", 0, -1, 1.5, 1e-7, -2.75e-300, 123456789012345, 2**53 - 1]),
]
# Python and JavaScript spell some floats differently (repr 1e-07 / 1e+16,
# JSON.stringify 1e-7 / 10000000000000000): same values, not the same bytes.
SAME_BYTES = [i for i, p in enumerate(PACKETS) if not any(isinstance(v, float) for v in p.data or ())]


def role_for(packet: Packet) -> str:
    """Who decodes it: CONNECT_ERROR and a CONNECT carrying a sid come from servers."""
    if packet.type is T.CONNECT_ERROR or (isinstance(packet.data, dict) and "sid" in packet.data):
        return "client"
    return "server"


def _json_packet(packet: Packet) -> dict:
    def dump(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return {"$bin": bytes(value).hex()}
        if isinstance(value, (list, tuple)):
            return [dump(v) for v in value]
        if isinstance(value, dict):
            return {k: dump(v) for k, v in value.items()}
        return value

    return {"type": int(packet.type), "nsp": packet.namespace, "data": dump(packet.data), "id": packet.id}


def _revive(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: _revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive(v) for v in value]
    return value


@pytest.fixture(scope="module")
def node_output() -> dict:
    from tests.conftest import require_node_modules

    js_dir = require_node_modules()
    ours = [[m if isinstance(m, str) else {"$bin": m.hex()} for m in encode(p)] for p in PACKETS]
    ours_msgpack = [msgpack_codec.encode(p)[0].hex() for p in PACKETS]
    payload = json.dumps({"packets": [_json_packet(p) for p in PACKETS], "ours": ours, "oursMsgpack": ours_msgpack})
    result = subprocess.run(
        ["node", "-e", SCRIPT],
        input=payload,
        capture_output=True,
        text=True,
        cwd=str(js_dir),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("index", SAME_BYTES)
def test_text_encoding_is_byte_identical_to_socket_io_parser(node_output: dict, index: int) -> None:
    theirs = [m if isinstance(m, str) else bytes.fromhex(m["$bin"]) for m in node_output["text"][index]]
    assert encode(PACKETS[index]) == theirs


@pytest.mark.parametrize("index", range(len(PACKETS)))
def test_socket_io_parser_decodes_ours(node_output: dict, index: int) -> None:
    packet = PACKETS[index]
    got = _revive(node_output["decodedText"][index])
    assert got["type"] == int(packet.type) and got["nsp"] == packet.namespace
    assert got.get("data") == packet.data and got.get("id") == packet.id


@pytest.mark.parametrize("index", range(len(PACKETS)))
def test_msgpack_both_ways(node_output: dict, index: int) -> None:
    packet = PACKETS[index]
    theirs = bytes.fromhex(node_output["msgpack"][index])
    assert msgpack_codec.Decoder(role=role_for(packet)).feed(theirs) == packet
    got = _revive(node_output["decodedMsgpack"][index])
    assert got["type"] == int(packet.type) and got["nsp"] == packet.namespace
    assert got.get("data") == packet.data and got.get("id") == packet.id


def test_reference_encodings_decode_to_the_same_packets(node_output: dict) -> None:
    for packet, messages in zip(PACKETS, node_output["text"]):
        decoder = Decoder(role=role_for(packet))
        result = None
        for message in messages:
            result = decoder.feed(message if isinstance(message, str) else bytes.fromhex(message["$bin"]))
        assert result == packet
