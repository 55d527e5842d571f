"""The cluster adapter among the worker processes of one host: Unix sockets, no broker.

Under ``gunicorn -k siothread.gunicorn.Worker -w N`` or ``siothread.serve(app,
workers=N)`` every worker holds a slot (:mod:`siothread.handoff`); this adapter
gives the workers Node's cluster-adapter semantics (broadcasts, rooms, acks with
per-sid results, ``fetch_sockets``, ``server_side_emit``, ``disconnect_sockets``)
through :class:`~siothread.adapters.cluster.ClusterAdapterWithHeartbeat`, with a
transport of its own:

- each worker listens on the abstract Unix socket ``\\0siothread-<group>-bus-<slot>``
  and keeps one connection to every other worker's (found by probing the slots,
  at start and every second, and at once when a new worker says hello);
- a frame is a 5-byte header (body length, kind) and a body: a message to every
  node, a response addressed to one node's uid (others skip it without decoding),
  or a hello naming the sender's slot. Bodies are MessagePack
  (:mod:`~siothread.adapters.wire`), decoded with its caps and validated by the
  base class;
- sending never blocks the caller: each peer has a writer greenlet and a bounded
  queue (:data:`MAX_QUEUED_BYTES`); a peer that stops reading loses messages
  (counted and logged once per episode) instead of stalling the others;
- a worker that dies closes its sockets: the others notice at once (end of
  stream) and stop waiting for its answers;
- only processes of the same user may connect (``SO_PEERCRED``).

Outside a worker process (a single process) there are no peers and it behaves as
the in-process :class:`~siothread.adapters.memory.MemoryManager`.
"""
from __future__ import annotations

import collections
import struct
from typing import Any, Deque, Dict, List, Optional

import gevent
import gevent.event
from gevent import socket

from ..handoff import accept_same_user
from . import wire
from .cluster import ClusterAdapterWithHeartbeat

__all__ = ["WorkerManager", "MAX_QUEUED_BYTES"]

#: bytes waiting for one peer before new messages to it are dropped
MAX_QUEUED_BYTES = 16 * 1024 * 1024
#: how often the slots are probed for workers not connected yet
PROBE_INTERVAL = 1.0

_FRAME = struct.Struct("!IB")  # body length, kind
_MESSAGE, _RESPONSE, _HELLO = 0, 1, 2


def _bus_address(group: str, slot: int) -> str:
    return f"\0siothread-{group}-bus-{slot}"


class _Peer:
    """The connection to one other worker and its outbound queue."""

    __slots__ = ("slot", "sock", "queue", "queued", "wake", "writer", "dropping")

    def __init__(self, slot: int, sock: Any) -> None:
        self.slot = slot
        self.sock = sock
        self.queue: Deque[bytes] = collections.deque()
        self.queued = 0
        self.wake = gevent.event.Event()
        self.writer: Any = None
        self.dropping = False


class WorkerManager(ClusterAdapterWithHeartbeat):
    """Node's cluster adapter among the workers of one host (see the module docstring).

    Used automatically by the workers when the server's adapter is the default
    in-process one; pass it as ``client_manager=`` to say so explicitly or to set
    its options (those of :class:`~siothread.adapters.cluster.ClusterAdapterWithHeartbeat`).
    ``group`` and ``slot`` default to those of the worker process it runs in.
    """

    def __init__(self, *, group: str = "", slot: int = -1, heartbeat_interval: float = 2.0,
                 heartbeat_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout, **kwargs)
        self.group = group
        self.slot = slot
        self.peers: Dict[int, _Peer] = {}
        self._listener: Any = None
        self._greenlets: "set[Any]" = set()
        self._uid_slots: Dict[str, int] = {}
        self.stats = {"sent": 0, "received": 0, "dropped": 0}

    # ---------------------------------------------------------------- lifecycle
    def initialize(self) -> None:
        from ..workerproc import current_worker

        proc = current_worker()
        if proc is not None and self.slot < 0:
            self.group, self.slot = proc.router.group, proc.router.slot
        if self.slot >= 0 and self._listener is None:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(_bus_address(self.group, self.slot))
            listener.listen(128)
            self._listener = listener
            self._spawn(self._accept_loop)
            self._spawn(self._probe_loop)
            self._probe()  # before the first INITIAL_HEARTBEAT goes out
        super().initialize()

    def close(self) -> None:
        super().close()  # ADAPTER_CLOSE to the others first
        for peer in list(self.peers.values()):
            self._flush(peer, 0.5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        gevent.killall(list(self._greenlets), block=True, timeout=1.0)
        for peer in list(self.peers.values()):
            self._drop_peer(peer)

    def _spawn(self, fn: Any, *args: Any) -> Any:
        g = gevent.spawn(fn, *args)
        self._greenlets.add(g)
        g.link(self._greenlets.discard)
        return g

    # ---------------------------------------------------------- transport hooks
    def do_publish(self, namespace: str, message: Dict[str, Any]) -> None:
        if not self.peers:
            return
        body = wire.encode_msgpack(message)
        frame = _FRAME.pack(len(body), _MESSAGE) + body
        for peer in list(self.peers.values()):
            self._enqueue(peer, frame)

    def do_publish_response(self, namespace: str, requester_uid: str, response: Dict[str, Any]) -> None:
        to = requester_uid.encode()
        body = bytes([len(to)]) + to + wire.encode_msgpack(response)
        frame = _FRAME.pack(len(body), _RESPONSE) + body
        slot = self._uid_slots.get(requester_uid)
        targets = [self.peers[slot]] if slot in self.peers else list(self.peers.values())
        for peer in targets:
            self._enqueue(peer, frame)

    # ------------------------------------------------------------------ sending
    def _enqueue(self, peer: _Peer, frame: bytes) -> None:
        if peer.queued + len(frame) > MAX_QUEUED_BYTES:
            self.stats["dropped"] += 1
            if not peer.dropping:
                peer.dropping = True
                self.drops.drop("peer-backlog", f"worker slot {peer.slot} is not reading; dropping messages")
            return
        peer.dropping = False
        peer.queue.append(frame)
        peer.queued += len(frame)
        self.stats["sent"] += 1
        peer.wake.set()

    def _writer(self, peer: _Peer) -> None:
        try:
            while True:
                peer.wake.wait()
                peer.wake.clear()
                while peer.queue:
                    frames: List[bytes] = []
                    while peer.queue and len(frames) < 64:
                        frames.append(peer.queue.popleft())
                    data = b"".join(frames)
                    peer.sock.sendall(data)
                    peer.queued -= len(data)
        except OSError:
            self._drop_peer(peer)

    def _flush(self, peer: _Peer, timeout: float) -> None:
        deadline = gevent.get_hub().loop.now() + timeout
        while peer.queue and gevent.get_hub().loop.now() < deadline and self.peers.get(peer.slot) is peer:
            gevent.sleep(0.01)

    def _drop_peer(self, peer: _Peer) -> None:
        if self.peers.get(peer.slot) is peer:
            del self.peers[peer.slot]
        peer.queue.clear()
        peer.queued = 0
        try:
            peer.sock.close()
        except OSError:
            pass
        writer = peer.writer
        if writer is not None and writer is not gevent.getcurrent():
            writer.kill(block=False)

    # -------------------------------------------------------- finding the others
    def _probe_loop(self) -> None:
        while True:
            gevent.sleep(PROBE_INTERVAL)
            self._probe()

    def _probe(self) -> None:
        highest = max([self.slot, *self.peers, *self._uid_slots.values()])
        for slot in range(max(16, highest + 8)):
            if slot != self.slot and slot not in self.peers:
                self._connect(slot)

    def _connect(self, slot: int) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(_bus_address(self.group, slot))
        except OSError:
            sock.close()
            return
        if slot in self.peers:  # connected meanwhile (a hello arrived)
            sock.close()
            return
        peer = _Peer(slot, sock)
        self.peers[slot] = peer
        hello = struct.pack("!H", self.slot)
        peer.queue.append(_FRAME.pack(len(hello), _HELLO) + hello)
        peer.queued = len(peer.queue[0])
        peer.wake.set()
        peer.writer = self._spawn(self._writer, peer)

    # ---------------------------------------------------------------- receiving
    def _accept_loop(self) -> None:
        accept_same_user(lambda: self._listener, lambda conn: self._spawn(self._reader, conn))

    def _reader(self, conn: Any) -> None:
        uid: Optional[str] = None
        slot: Optional[int] = None
        buf = b""
        limit = self.limits.max_bytes + 256
        try:
            while True:
                while len(buf) < _FRAME.size:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                length, kind = _FRAME.unpack_from(buf)
                if length > limit:
                    self.drops.drop("oversize", f"a frame of {length} bytes from another worker")
                    return
                while len(buf) < _FRAME.size + length:
                    data = conn.recv(max(65536, _FRAME.size + length - len(buf)))
                    if not data:
                        return
                    buf += data
                body = buf[_FRAME.size:_FRAME.size + length]
                buf = buf[_FRAME.size + length:]
                if kind == _HELLO and len(body) == 2:
                    slot = struct.unpack("!H", body)[0]
                    if slot not in self.peers and slot != self.slot:
                        self._connect(slot)
                    continue
                if kind == _RESPONSE:
                    if not body or body[1:1 + body[0]] != self.uid.encode():
                        continue
                    body = body[1 + body[0]:]
                elif kind != _MESSAGE:
                    continue
                try:
                    message = wire.decode(body, self.limits)
                except wire.WireError as exc:
                    self.drops.drop("invalid", str(exc))
                    continue
                self.stats["received"] += 1
                if uid is None and isinstance(message, dict) and isinstance(message.get("uid"), str):
                    uid = message["uid"]
                    if slot is not None:
                        self._uid_slots[uid] = slot
                self.on_message(message)
        except OSError:
            pass
        finally:
            conn.close()
            if uid is not None:
                # the worker went away (or restarted): stop waiting for its answers now
                self._uid_slots.pop(uid, None)
                self.remove_node(uid)
