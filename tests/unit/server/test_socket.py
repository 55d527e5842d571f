"""siothread/server/socket.py: one client's connection to one namespace.

Dispatch, hooks, the inbox order and acks are covered end to end in
test_sio_events.py, test_sio_acks.py and test_sio_fast_paths.py; these tests
hold the Socket object to its state machine and its write paths.
"""
from siothread.protocol.socketio import PacketType as T
from siothread.server.socket import Socket, SocketState, args_of


def connected(sio, namespace="/"):
    peer = sio.eio.open()
    peer.connect(namespace)
    sid = peer.connected_sid(namespace)
    return peer, sio._sockets[sid]


def test_args_of_follows_python_socketio() -> None:
    assert args_of(None) == [] and args_of((1, 2)) == [1, 2] and args_of([1, 2]) == [[1, 2]]
    assert args_of("x") == ["x"] and args_of(()) == []


def test_writes_while_connecting_wait_for_the_connect_answer(sio):
    seen = {}

    @sio.on("connect")
    def connect(sid, environ):
        sock = sio._sockets[sid]
        seen["state"] = sock.state
        sock.emit("early", 1)
        seen["held"] = len(sock.held)

    peer, sock = connected(sio)
    assert seen == {"state": SocketState.CONNECTING, "held": 1}
    assert [p.type for p in peer.packets] == [T.CONNECT, T.EVENT] and sock.held == []


def test_leave_is_once_and_nothing_is_sent_after_it(sio):
    reasons = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    peer, sock = connected(sio)
    sock.leave(sio.reason.SERVER_DISCONNECT, notify=True)
    sock.leave(sio.reason.SERVER_DISCONNECT, notify=True)
    peer.wait_for(lambda: reasons)
    assert sock.state is SocketState.CLOSED and reasons == [sio.reason.SERVER_DISCONNECT]
    assert len(peer.find(T.DISCONNECT)) == 1
    before = len(peer.raw)
    sock.emit("late", 1)
    sock.write(["2[\"late\"]"], False, None)
    assert len(peer.raw) == before


def test_emit_fast_and_general_paths_send_the_same_bytes(sio):
    # an outgoing hook turns the fast path of Socket.emit off without changing what is sent
    peer, sock = connected(sio)
    values = (None, 1, ("a", b"\x00"), [1, 2], ("x", {"y": [b"z"]}))

    def sent() -> list:
        out = []
        for data in values:
            start = len(peer.raw)
            sock.emit("ev", data)
            out.append(peer.raw[start:])
        return out

    fast = sent()
    hooked = []
    sio.on_outgoing(lambda sid, ns, event, args: hooked.append(args))
    assert sent() == fast and len(hooked) == len(values)


def test_call_waits_for_this_sockets_ack(sio):
    peer, sock = connected(sio)
    result = []
    sio.start_background_task(lambda: result.append(sock.call("q", [1], timeout=3)))
    packet = peer.wait_packet(T.EVENT, event="q")
    peer.ack(packet.id, "a", "b")
    peer.wait_for(lambda: result)
    assert result == [("a", "b")] and sock.acks == {}


def test_a_socket_reads_server_wide_state_from_its_server(sio):
    peer, sock = connected(sio)
    assert isinstance(sock, Socket) and sock.server is sio and sock.client is sio._clients[peer.sid]
    assert sock.eio_sid == peer.sid and sock.namespace == "/"
