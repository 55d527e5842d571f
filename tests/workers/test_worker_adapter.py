"""The worker adapter's transport in one process: two servers as two workers of one group, a
peer that never reads, and malformed frames."""
import itertools
import os
import struct

import gevent
import gevent.event
import pytest
from gevent import socket

import siothread
from siothread.adapters import workers as wa
from siothread.adapters.workers import WorkerManager

_groups = itertools.count()


def node(group: str, slot: int) -> siothread.Server:
    sio = siothread.Server(client_manager=WorkerManager(group=group, slot=slot))
    sio.on_server_event("whoami", lambda: slot)
    sio.manager.initialize()
    return sio


@pytest.fixture
def group():
    return f"adaptertest{os.getpid()}-{next(_groups)}"


def ask(sio: siothread.Server) -> list:
    result = gevent.event.AsyncResult()
    sio.server_side_emit("whoami", callback=result.set, timeout=2)
    return sorted(result.get(timeout=5))


def wait_for(predicate, timeout: float = 5.0) -> None:
    with gevent.Timeout(timeout):
        while not predicate():
            gevent.sleep(0.02)


def test_two_workers_find_and_answer_each_other(group):
    a, b = node(group, 0), node(group, 1)
    try:
        wait_for(lambda: 1 in a.manager.peers and 0 in b.manager.peers and a.manager.nodes and b.manager.nodes)
        assert ask(a) == [1] and ask(b) == [0]
    finally:
        a.shutdown(1)
        b.shutdown(1)
    # ADAPTER_CLOSE or the end of the stream: neither waits for the other any more
    assert a.manager.peers == {} and b.manager.peers == {}


def test_a_peer_that_stops_reading_loses_messages_not_the_others(group, monkeypatch):
    monkeypatch.setattr(wa, "MAX_QUEUED_BYTES", 256 * 1024)
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.bind(f"\0siothread-{group}-bus-2")  # a 'worker' in slot 2 that accepts and never reads
    stuck.listen(8)
    a, b = node(group, 0), node(group, 1)
    try:
        wait_for(lambda: {1, 2} <= set(a.manager.peers) and b.manager.nodes)
        for _ in range(400):  # 400 x 10 KB: far past the stuck peer's socket buffers and queue cap
            a.emit("news", "x" * 10_000)
            gevent.sleep(0)
        wait_for(lambda: a.manager.stats["dropped"] > 0)
        assert a.manager.peers[2].queued <= wa.MAX_QUEUED_BYTES
        assert ask(b) == [0]  # the healthy worker still hears and answers
    finally:
        a.shutdown(1)
        b.shutdown(1)
        stuck.close()


@pytest.mark.parametrize("frame", [
    struct.pack("!IB", 1 << 30, 0),  # over the size cap: the connection is dropped
    struct.pack("!IB", 4, 0) + b"\xc1\xc1\xc1\xc1",  # not MessagePack: the frame is dropped
    struct.pack("!IB", 3, 0) + b"\x93\x01\x02",  # a list, not a message map
    struct.pack("!IB", 5, 7) + b"hello",  # an unknown kind
], ids=["oversize", "undecodable", "not-a-map", "kind"])
def test_malformed_frames_are_dropped(group, frame):
    a = node(group, 0)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(f"\0siothread-{group}-bus-0")
            s.sendall(frame)
            gevent.sleep(0.1)
        assert a.manager.stats["received"] <= 1  # the one bad map may count, and is then refused
        b = node(group, 1)
        try:
            wait_for(lambda: a.manager.nodes)
            assert ask(a) == [1]  # still working
        finally:
            b.shutdown(1)
    finally:
        a.shutdown(1)
