"""siothread/server/client.py: one Engine.IO connection as the Socket.IO layer sees it.

End-to-end behaviour (namespaces, timeouts, binary reassembly) is in
test_sio_connect.py and test_sio_binary.py; these tests hold the Client object
itself to its job: one per connection, its timers, where each packet goes.
"""
from siothread.protocol.socketio import Packet, PacketType as T
from siothread.server.client import Client
from siothread.server.socket import SocketState


def test_one_client_per_connection_with_its_connect_timer(sio):
    peer = sio.eio.open()
    client = sio._clients[peer.sid]
    assert isinstance(client, Client) and client.eio_sid == peer.sid and client.server is sio
    assert client.connect_timer is not None and client.sockets == {}
    peer.connect("/")
    sid = peer.connected_sid()
    assert client.connect_timer is None  # joined in time
    sock = client.sockets["/"]
    assert sock.sid == sid and sock.client is client and sock.state is SocketState.CONNECTED
    peer.close()
    assert peer.sid not in sio._clients and client.closing and client.decoder is None


def test_acks_are_resolved_in_the_reader_and_go_to_their_own_socket(make_server):
    sio = make_server(namespaces="*")
    peer = sio.eio.open()
    peer.connect("/")
    peer.connect("/other")
    sid = peer.connected_sid("/")
    peer.connected_sid("/other")
    client = sio._clients[peer.sid]
    got = []
    sio.emit("q", 1, to=sid, callback=lambda *args: got.append(args))
    ack_id = peer.wait_packet(T.EVENT, event="q").id
    peer.ack(ack_id, "wrong socket", namespace="/other")  # same id, other namespace: not this socket's
    assert client.sockets["/"].acks and got == []
    peer.ack(ack_id, "yes")
    peer.wait_for(lambda: got)
    assert got == [("yes",)] and client.sockets["/"].acks == {}


def test_close_ends_every_socket_and_the_engine_session_once(make_server):
    sio = make_server(namespaces="*")
    reasons = []
    sio.on("disconnect", lambda ns, sid, reason: reasons.append(reason), namespace="*")
    peer = sio.eio.open()
    peer.connect("/")
    peer.connect("/b")
    peer.connected_sid("/")
    peer.connected_sid("/b")
    client = sio._clients[peer.sid]
    client.close(sio.reason.FORCED_CLOSE, "server disconnect")
    client.close(sio.reason.FORCED_CLOSE, "server disconnect")  # once only
    peer.wait_for(lambda: len(reasons) == 2)
    assert peer.closed and peer.close_reason == "server disconnect"
    assert reasons == [sio.reason.FORCED_CLOSE] * 2 and sio._sockets == {}


def test_send_raw_sends_text_as_is_and_binary_as_one_prepared_write(sio):
    peer = sio.eio.open()
    client = sio._clients[peer.sid]
    header = '51-["b",{"_placeholder":true,"num":0}]'
    client.send_raw(header)
    client.send_raw(b"\x01\x02")
    assert peer.writes[-2:] == [(header,), (b"\x01\x02",)]
    assert peer.packets[-1].data == ["b", b"\x01\x02"]


def test_a_connect_error_names_the_namespace(sio):
    peer = sio.eio.open()
    sio._clients[peer.sid].send_connect_error("/nope", {"message": "Invalid namespace"})
    assert peer.packets[-1] == Packet(T.CONNECT_ERROR, "/nope", {"message": "Invalid namespace"})
