"""Binary events and acks both ways, reassembly bounds, and one write per packet."""
import gevent

from siothread.protocol.socketio import PacketType as T


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    return peer, peer.connected_sid(namespace)


def test_binary_event_from_client_at_any_depth_and_binary_ack(sio):
    sio.on("upload", lambda sid, meta, blobs: {"echo": blobs, "size": sum(len(b) for b in blobs["files"])})
    peer, _ = connected(sio)
    peer.emit("upload", {"name": "x"}, {"files": [b"\x01\x02", b"", b"\xff" * 10]}, id=4)
    ack = peer.wait_packet(T.ACK)
    assert ack.data == [{"echo": {"files": [b"\x01\x02", b"", b"\xff" * 10]}, "size": 12}]
    header = next(m for m in peer.raw if isinstance(m, str) and m.startswith("6"))
    assert header.startswith("63-4[")  # BINARY_ACK with three attachments


def test_server_emits_nested_binary_in_one_write(sio):
    peer, sid = connected(sio)
    sio.emit("file", ({"a": [b"1", {"b": b"22"}]}, b"333"), to=sid)
    event = peer.wait_packet(T.EVENT, event="file")
    assert event.data == ["file", {"a": [b"1", {"b": b"22"}]}, b"333"]
    write = peer.writes[-1]
    assert len(write) == 4 and write[0].startswith("53-")


def test_concurrent_binary_emits_never_interleave(sio):
    peer, sid = connected(sio)

    def sender(tag):
        for i in range(20):
            sio.emit("chunk", (tag, i, bytes([tag]) * 3, bytes([tag, i])), to=sid)
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(sender, t) for t in range(5)])
    peer.wait_for(lambda: len(peer.find(T.EVENT, event="chunk")) == 100)
    for write in peer.writes[1:]:
        assert len(write) == 3 and write[0].startswith("52-")
    for p in peer.find(T.EVENT, event="chunk"):
        _, tag, i, a, b = p.data
        assert a == bytes([tag]) * 3 and b == bytes([tag, i])


def test_text_while_waiting_for_attachments_closes(sio):
    peer, _ = connected(sio)
    peer.send_raw('51-["up",{"_placeholder":true,"num":0}]')
    assert not peer.closed
    peer.send_raw('2["text"]')
    assert peer.closed and peer.close_reason == "parse error"


def test_binary_without_header_closes(sio):
    peer, _ = connected(sio)
    peer.send_raw(b"\x00\x01")
    assert peer.closed and peer.close_reason == "parse error"


def test_too_many_attachments_closes(sio):
    peer, _ = connected(sio)
    peer.send_raw('511-["up"]')
    assert peer.closed


def test_attachment_timeout_closes(make_server):
    sio = make_server(attachment_timeout=0.1)
    calls = []
    sio.on("up", lambda sid, data: calls.append(data))
    peer, _ = connected(sio)
    peer.send_raw('52-["up",[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]')
    peer.send_raw(b"first")
    peer.wait_for(lambda: peer.closed, timeout=2)
    assert peer.close_reason == "parse error" and calls == []


def test_partial_binary_packet_dropped_on_disconnect(sio):
    calls = []
    sio.on("up", lambda sid, data: calls.append(data))
    peer, _ = connected(sio)
    peer.send_raw('51-["up",{"_placeholder":true,"num":0}]')
    client = sio._clients[peer.sid]
    assert client.decoder.awaiting_attachments and client.attachment_timer is not None
    peer.close()
    assert client.decoder is None and client.attachment_timer is None
    gevent.sleep(0.02)
    assert calls == []


def test_binary_event_before_connect_is_not_dispatched(sio):
    calls = []
    sio.on("up", lambda sid, data: calls.append(data))
    peer = sio.eio.open()
    peer.send_raw('51-["up",{"_placeholder":true,"num":0}]')
    peer.send_raw(b"x")
    gevent.sleep(0.02)
    assert calls == []
