"""A Redis Streams node delivers the stored broadcasts to each socket in stream order.

A client's recovery offset is the last one it received. If a node's own
broadcast (its entry added after another node's one) reached a socket before
that earlier entry, which the node's stream reader had not handled yet, the
client's offset went back to the earlier entry, and a client cut off just then
was given the own broadcast a second time in its replay. The reader is held
here between reading the other node's entry and handling it, which is the
interleaving a loaded machine produces by chance.
"""
import uuid

import gevent
import gevent.event
import redis

import siothread
from nodes import wait_until
from siothread.adapters import wire
from siothread.adapters.base import BroadcastOptions
from siothread.adapters.cluster import MessageType
from siothread.adapters.stream_entries import encode_entry
from siothread.protocol.socketio import Packet, PacketType
from switchboard import Switchboard


def other_node_broadcast(url, stream, event, arg):
    """Add another node's stored broadcast to the stream, as that node's XADD does."""
    fields = encode_entry({"uid": "another-node", "nsp": "/", "type": int(MessageType.BROADCAST),
                           "data": {"packet": wire.packet_to_wire(Packet(PacketType.EVENT, "/", [event, arg])),
                                    "opts": wire.opts_to_wire(BroadcastOptions())}})
    with redis.Redis.from_url(url) as other:
        other.execute_command("XADD", stream, "*", *fields)


def test_own_broadcast_never_overtakes_an_entry_the_reader_holds(redis_server):
    stream = f"sio-order-{uuid.uuid4().hex}"
    manager = siothread.RedisStreamsManager(redis_server.url, stream_name=stream, block_time=0.5,
                                            publish_timeout=3)
    sio = siothread.Server(client_manager=manager, recovery={"max_disconnection_duration": 30})
    server = siothread.make_server(siothread.WSGIApp(sio), "127.0.0.1", 0)
    server.start()
    board = Switchboard()
    board.route(server.server_port)
    got = []
    client = siothread.Client(reconnection_delay=0.1, reconnection_delay_max=0.1, randomization_factor=0)
    client.on("tick", got.append)
    try:
        client.connect(board.url, transports=["websocket"])
        sid = client.get_sid()
        wait_until(lambda: manager.reader_connected, message="the stream reader never started")

        # hold the reader once it has read the next entry, before it handles it
        reached, gate = gevent.event.Event(), gevent.event.Event()
        handle = manager._on_entry

        def held(entry, fields):
            reached.set()
            gate.wait()
            handle(entry, fields)

        manager._on_entry = held
        other_node_broadcast(redis_server.url, stream, "tick", "other")
        assert reached.wait(5), "the reader never read the other node's entry"
        emitting = gevent.spawn(sio.emit, "tick", "own")  # its entry comes after the held one
        wait_until(lambda: int(redis_server.cli("XLEN", stream)) == 2, message="the own broadcast never reached")
        gevent.sleep(0.3)  # time for a delivery that does not wait for the reader to reach the client
        manager._on_entry = handle
        gate.set()
        emitting.get(timeout=5)
        wait_until(lambda: len(got) == 2, message=f"events: {got}")
        assert got == ["other", "own"]  # stream order: the client's offset is the newest entry

        board.route(None)  # the connection drops; the client comes back with its offset
        wait_until(lambda: not manager.is_connected("/", sid), message="the node never noticed the drop")
        board.route(server.server_port)
        wait_until(lambda: client.connected and client.get_sid() == sid and client.recovered,
                   message="not recovered")
        gevent.sleep(0.3)
        assert got == ["other", "own"]  # nothing replayed twice
    finally:
        client.disconnect()
        board.close()
        sio.shutdown(timeout=2)
        server.stop(timeout=1)
        redis_server.cli("DEL", stream)
