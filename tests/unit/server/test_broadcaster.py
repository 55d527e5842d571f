"""siothread/server/broadcast.py: the Broadcaster, the adapter's only view of the server.

Room selection, exclusions, volatile and compress flags and encode-once are
covered end to end in test_sio_rooms.py; these tests hold the AdapterHost
contract itself: what the server hands its adapter, and what each entry does.
"""
from siothread.adapters.base import AdapterHost, BroadcastOptions
from siothread.adapters.memory import MemoryManager
from siothread.protocol.socketio import Packet, PacketType as T
from siothread.server.broadcast import Broadcaster, _AdapterHost

HOST_MEMBERS = {"runtime", "deliver", "deliver_with_ack", "local_details", "local_disconnect",
                "handle_server_side_emit", "next_ack_id"}


class RecordingManager(MemoryManager):
    """The in-memory adapter, keeping the host it was given."""

    def attach(self, host):  # type: ignore[no-untyped-def]
        self.host = host
        super().attach(host)


def test_the_adapter_gets_exactly_the_adapter_host_members_bound_to_the_broadcaster(make_server):
    manager = RecordingManager()
    sio = make_server(client_manager=manager)
    host = manager.host
    assert isinstance(host, _AdapterHost)
    protocol = {n for n in vars(AdapterHost) if not n.startswith("_")} | set(AdapterHost.__annotations__)
    assert protocol == HOST_MEMBERS == set(_AdapterHost.__slots__)
    assert isinstance(sio._broadcaster, Broadcaster) and host.runtime is sio.runtime
    for name in HOST_MEMBERS - {"runtime", "next_ack_id"}:
        assert getattr(host, name).__self__ is sio._broadcaster
    assert host.next_ack_id.__self__ is sio


def connected(sio, n):
    peers = []
    for _ in range(n):
        peer = sio.eio.open()
        peer.connect("/")
        peers.append((peer, peer.connected_sid()))
    return peers


def test_deliver_reaches_live_local_sids_only_and_encodes_once(sio):
    peers = connected(sio, 3)
    sids = [sid for _, sid in peers]
    gone = sids[2]
    sio.disconnect(gone)
    packet = Packet(T.EVENT, "/", ["hi", 1])
    before = sio.eio.prepare_calls
    count = sio._broadcaster.deliver(packet, sids + ["unknown"], BroadcastOptions())
    assert count == 2 and sio.eio.prepare_calls == before + 1
    assert [p.events()[-1:] for p, _ in peers] == [[["hi", 1]], [["hi", 1]], []]
    assert sio._broadcaster.deliver(packet, [], BroadcastOptions()) == 0


def test_local_details_and_disconnect(sio):
    (peer, sid), = connected(sio, 1)
    details = sio._broadcaster.local_details(sid)
    assert details is not None and details.id == sid and details.namespace == "/" and sid in details.rooms
    assert details.handshake["address"] == "127.0.0.1" and details.handshake["auth"] == {}
    assert sio._broadcaster.local_details("unknown") is None
    sio._broadcaster.local_disconnect(sid, close=True)
    peer.wait_for(lambda: peer.closed)
    assert sio._broadcaster.local_details(sid) is None and peer.find(T.DISCONNECT)


def test_server_side_emit_reaches_only_its_namespace_handler(sio):
    sio.on_server_event("ping", lambda x: x + 1, namespace="/a")
    assert sio._broadcaster.handle_server_side_emit("/a", "ping", [1]) == 2
    assert sio._broadcaster.handle_server_side_emit("/", "ping", [1]) is None
