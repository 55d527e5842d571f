"""Interoperability with independent implementations: websocket-client's frame
encoder (a dev dependency) and wsproto (installed with python-socketio's client
extra; skipped when absent), both directions, with and without permessage-deflate."""
from __future__ import annotations

import os
from typing import Any, List

import pytest

from siothread.protocol.websocket import (
    Close,
    FrameParser,
    Message,
    PerMessageDeflate,
    Ping,
    encode_binary,
    encode_close,
    encode_ping,
    encode_text,
)

MESSAGES: List[Any] = ["hello", "", "é" * 5000, b"\x00\xff" * 40000, b"", "x" * 70000]


def parse(data: bytes, **kwargs: Any) -> List[Any]:
    parser = FrameParser(**kwargs)
    parser.feed(data)
    return list(parser.events())


def test_websocket_client_frames() -> None:
    websocket = pytest.importorskip("websocket")
    ABNF = websocket.ABNF
    wire = b""
    for message in MESSAGES:
        opcode = ABNF.OPCODE_TEXT if isinstance(message, str) else ABNF.OPCODE_BINARY
        wire += ABNF.create_frame(message, opcode).format()
    wire += ABNF(fin=0, opcode=ABNF.OPCODE_TEXT, data="frag").format()
    wire += ABNF.create_frame("pp", ABNF.OPCODE_PING).format()
    wire += ABNF(fin=1, opcode=ABNF.OPCODE_CONT, data="mented").format()
    wire += ABNF.create_frame(b"\x03\xe8done", ABNF.OPCODE_CLOSE).format()
    expected = [Message(m) for m in MESSAGES] + [Ping(b"pp"), Message("fragmented"), Close(1000, "done")]
    assert parse(wire) == expected


def _wsproto_events(proto: Any) -> List[Any]:
    from wsproto.frame_protocol import Opcode as WOpcode

    out: List[Any] = []
    pending: Any = None
    for frame in proto.received_frames():
        if frame.opcode in (WOpcode.TEXT, WOpcode.BINARY, WOpcode.CONTINUATION):
            pending = frame.payload if pending is None else pending + frame.payload
            if frame.message_finished:
                out.append(Message(pending))
                pending = None
        elif frame.opcode is WOpcode.PING:
            out.append(Ping(bytes(frame.payload)))
        elif frame.opcode is WOpcode.CLOSE:
            code, reason = frame.payload
            out.append(Close(int(code), reason))
    return out


@pytest.mark.parametrize("deflate", [False, True])
def test_wsproto_client_to_our_server(deflate: bool) -> None:
    pytest.importorskip("wsproto")
    from wsproto.extensions import PerMessageDeflate as WDeflate
    from wsproto.frame_protocol import FrameProtocol

    extensions = []
    server = None
    if deflate:
        wext = WDeflate()
        negotiated = PerMessageDeflate().negotiate("permessage-deflate; " + str(wext.offer()))
        assert negotiated is not None
        response, server = negotiated
        wext.finalize(response)
        extensions = [wext]
    client = FrameProtocol(client=True, extensions=extensions)
    wire = b"".join(bytes(client.send_data(m)) for m in MESSAGES)
    wire += bytes(client.send_data("frag", fin=False)) + bytes(client.ping(b"p"))
    wire += bytes(client.send_data("mented", fin=True))
    wire += bytes(client.close(1001, "bye"))
    if deflate:
        assert wire[0] & 0x40
    expected = [Message(m) for m in MESSAGES] + [Ping(b"p"), Message("fragmented"), Close(1001, "bye")]
    assert parse(wire, deflate=server) == expected


@pytest.mark.parametrize("deflate", [False, True])
def test_our_server_to_wsproto_client(deflate: bool) -> None:
    pytest.importorskip("wsproto")
    from wsproto.extensions import PerMessageDeflate as WDeflate
    from wsproto.frame_protocol import FrameProtocol

    extensions = []
    server = None
    if deflate:
        wext = WDeflate()
        negotiated = PerMessageDeflate(threshold=0).negotiate("permessage-deflate; " + str(wext.offer()))
        assert negotiated is not None
        response, server = negotiated
        wext.finalize(response)
        extensions = [wext]
    client = FrameProtocol(client=True, extensions=extensions)
    for message in MESSAGES * 2:  # twice: context takeover on the second round
        encode = encode_text if isinstance(message, str) else encode_binary
        client.receive_bytes(encode(message, deflate=server))
        assert _wsproto_events(client) == [Message(message)]
    client.receive_bytes(encode_ping(b"p") + encode_close(4000, "bye"))
    assert _wsproto_events(client) == [Ping(b"p"), Close(4000, "bye")]


@pytest.mark.parametrize("deflate", [False, True])
def test_our_client_with_wsproto_server(deflate: bool) -> None:
    pytest.importorskip("wsproto")
    from wsproto.extensions import PerMessageDeflate as WDeflate
    from wsproto.frame_protocol import FrameProtocol

    extensions = []
    ours = None
    if deflate:
        template = PerMessageDeflate(threshold=0)
        wext = WDeflate()
        params = wext.accept(template.offer())
        assert isinstance(params, str)
        ours = template.accept_response("permessage-deflate; " + params if params else "permessage-deflate")
        extensions = [wext]
    server = FrameProtocol(client=False, extensions=extensions)
    payload = os.urandom(3000)
    up = encode_binary(payload, deflate=ours, mask=True) + encode_text("hi", deflate=ours, mask=True)
    server.receive_bytes(up)
    assert _wsproto_events(server) == [Message(payload), Message("hi")]
    down = bytes(server.send_data("x" * 5000)) + bytes(server.send_data(payload))
    assert parse(down, expect_masked=False, deflate=ours) == [Message("x" * 5000), Message(payload)]
