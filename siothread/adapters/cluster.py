"""A cluster adapter without a transport: Node's ``ClusterAdapter`` and ``ClusterAdapterWithHeartbeat``.

Rooms stay in this process (:class:`~siothread.adapters.memory.MemoryManager`);
every operation that is not ``local`` is also sent to the other nodes as a
*message* ``{uid, nsp, type, data}`` with Node's ``MessageType`` numbers, and
answers come back as *responses* addressed to the requester's uid. A subclass
supplies only the transport:

- :meth:`ClusterAdapter.do_publish` (to every node) and
  :meth:`ClusterAdapter.do_publish_response` (to one node);
- calling :meth:`ClusterAdapter.on_message` / :meth:`ClusterAdapter.on_response`
  with each decoded message (already checked by :mod:`~siothread.adapters.wire`
  for size and nesting; this class checks every field it uses);
- :meth:`ClusterAdapter.cluster_size` (``SHARDNUMSUB`` for sharded Redis), or
  use :class:`ClusterAdapterWithHeartbeat`, which counts the nodes it hears.

The sharded Redis adapter, the Redis Streams adapter and the adapter among the
workers of one host subclass it. A message from another node is decoded once
and delivered with one ``host.deliver`` call (encoded once for all local
recipients), never per recipient.

Reference: ``socketio/socket.io: packages/socket.io-adapter/lib/cluster-adapter.ts``.
"""
from __future__ import annotations

import abc
import enum
import logging
import secrets
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Set

from ..errors import TimeoutError
from . import wire
from .base import AckCollector, BroadcastOptions, SocketDetails
from .memory import MemoryManager
from .requests import AckForwarding, AckRelay, PendingRequests, run_server_side_emit

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol.socketio import Packet

__all__ = ["MessageType", "ClusterAdapter", "ClusterAdapterWithHeartbeat", "EMITTER_UID",
           "details_to_wire", "details_from_wire"]

#: the uid Node's emitters put in their messages (never counted as a node)
EMITTER_UID = "emitter"


class MessageType(enum.IntEnum):
    """socket.io-adapter's ``MessageType``."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


_RESPONSE_TYPES = frozenset({MessageType.FETCH_SOCKETS_RESPONSE, MessageType.SERVER_SIDE_EMIT_RESPONSE,
                             MessageType.BROADCAST_CLIENT_COUNT, MessageType.BROADCAST_ACK})


def details_to_wire(details: SocketDetails) -> Dict[str, Any]:
    """A local socket as ``fetchSockets`` answers carry it: ``{id, handshake, rooms, data}``."""
    return {"id": details.id, "handshake": details.handshake, "rooms": list(details.rooms), "data": details.data}


def details_from_wire(value: Any, namespace: str) -> SocketDetails:
    """A remote socket from a ``fetchSockets`` answer, checked."""
    sid = wire.text(wire.field(value, "id"), "socket id", 256)
    handshake = value.get("handshake")
    data = value.get("data")
    return SocketDetails(
        id=sid, namespace=namespace, rooms=wire.rooms(value.get("rooms")),
        data=data if isinstance(data, dict) else {},
        handshake=handshake if isinstance(handshake, dict) else {},
    )


class ClusterAdapter(MemoryManager):
    """Node's ``ClusterAdapter`` semantics over an abstract publish/subscribe transport.

    Args:
        requests_timeout: seconds to wait for the answers of ``fetch_sockets``
            and ``server_side_emit`` (Node's 5 s default).
        max_pending_requests: requests waiting for answers at one time; one more
            raises :class:`~siothread.adapters.requests.TooManyRequests`.
        max_ack_wait: longest a node keeps the ack entries of a broadcast another
            node asked it to deliver (the requester's timeout, capped by this).
        limits: caps for decoded messages (:class:`~siothread.adapters.wire.WireLimits`).
    """

    def __init__(
        self,
        *,
        requests_timeout: float = 5.0,
        max_pending_requests: int = 1000,
        max_ack_wait: float = 60.0,
        limits: Optional[wire.WireLimits] = None,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        super().__init__()
        self.uid = secrets.token_hex(8)
        self.requests_timeout = requests_timeout
        self.max_pending_requests = max_pending_requests
        self.max_ack_wait = max_ack_wait
        self.limits = limits or wire.DEFAULT_LIMITS
        self.logger = logger or logging.getLogger("siothread.cluster")
        self.drops = wire.DropLog(self.logger)
        self._requests: Optional[PendingRequests] = None
        self._acks: Optional[AckForwarding] = None
        self.namespaces: Set[str] = set()

    # ---------------------------------------------------------- transport hooks
    @abc.abstractmethod
    def do_publish(self, namespace: str, message: Dict[str, Any]) -> None:
        """Send ``message`` to every other node (it must not block for long)."""

    @abc.abstractmethod
    def do_publish_response(self, namespace: str, requester_uid: str, response: Dict[str, Any]) -> None:
        """Send ``response`` to the node ``requester_uid``."""

    def namespace_added(self, namespace: str) -> None:  # noqa: B027 - optional hook
        """A namespace is used for the first time: subscribe to its channels."""

    def cluster_size(self, namespace: str) -> int:
        """Nodes serving ``namespace``, this one included."""
        return 1

    # ---------------------------------------------------------------- lifecycle
    def attach(self, host: Any) -> None:
        """Join the cluster as soon as the server exists (Node's adapters do at creation)."""
        super().attach(host)
        self.initialize()

    def initialize(self) -> None:
        assert self.host is not None
        if self._requests is not None:
            return
        self._requests = PendingRequests(self.host.runtime, self.max_pending_requests)
        self._acks = AckForwarding(self.host.runtime, self.max_pending_requests)
        self.use_namespace("/")

    def close(self) -> None:
        if self._requests is not None:
            self._requests.cancel_all()
        if self._acks is not None:
            self._acks.clear()
        super().close()

    def use_namespace(self, namespace: str) -> None:
        """Make sure this node hears ``namespace``'s messages."""
        if namespace not in self.namespaces:
            self.namespaces.add(namespace)
            self.namespace_added(namespace)

    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        if namespace not in self.namespaces:
            self.use_namespace(namespace)
        super().connect(namespace, sid, eio_sid)

    def server_count(self) -> int:
        return self.cluster_size("/")

    def publish(self, namespace: str, mtype: MessageType, data: Optional[Dict[str, Any]] = None) -> None:
        message: Dict[str, Any] = {"uid": self.uid, "nsp": namespace, "type": int(mtype)}
        if data is not None:
            message["data"] = data
        self.do_publish(namespace, message)

    def publish_response(self, namespace: str, requester: str, mtype: MessageType, data: Dict[str, Any]) -> None:
        self.do_publish_response(namespace, requester, {"uid": self.uid, "nsp": namespace, "type": int(mtype),
                                                        "data": data})

    # ------------------------------------------------------------- operations
    def broadcast(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> int:
        if not opts.local:
            self.use_namespace(namespace)
            self.publish(namespace, MessageType.BROADCAST,
                         {"packet": wire.packet_to_wire(packet), "opts": wire.opts_to_wire(opts)})
        return super().broadcast(namespace, packet, opts)

    def broadcast_with_ack(self, namespace: str, packet: "Packet", opts: BroadcastOptions,
                           collector: AckCollector) -> None:
        if not opts.local and self._acks is not None:
            self.use_namespace(namespace)
            servers = self.cluster_size(namespace)
            expected = collector_servers(collector)
            for _ in range(max(0, expected - servers)):
                collector.server_reached(0)  # nodes without this namespace answer nothing
            rid = secrets.token_hex(8)
            timeout = getattr(collector, "timeout", None)
            keep = min(timeout, self.max_ack_wait) if timeout is not None else self.max_ack_wait
            if self._acks.add(rid, collector, keep):
                self.publish(namespace, MessageType.BROADCAST, {
                    "packet": wire.packet_to_wire(packet), "requestId": rid,
                    "opts": wire.opts_to_wire(opts, keep),
                })
        super().broadcast_with_ack(namespace, packet, opts, collector)

    def add_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        if not opts.local:
            self.publish(namespace, MessageType.SOCKETS_JOIN, {"opts": wire.opts_to_wire(opts), "rooms": rooms})
        super().add_sockets(namespace, opts, rooms)

    def del_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        if not opts.local:
            self.publish(namespace, MessageType.SOCKETS_LEAVE, {"opts": wire.opts_to_wire(opts), "rooms": rooms})
        super().del_sockets(namespace, opts, rooms)

    def close_room(self, namespace: str, room: str) -> None:
        """Every member of ``room``, on every node, leaves it."""
        self.del_sockets(namespace, BroadcastOptions.build(room), [room])

    def disconnect_sockets(self, namespace: str, opts: BroadcastOptions, close: bool = False) -> None:
        if not opts.local:
            self.publish(namespace, MessageType.DISCONNECT_SOCKETS, {"opts": wire.opts_to_wire(opts),
                                                                    "close": bool(close)})
        super().disconnect_sockets(namespace, opts, close)

    def fetch_sockets(self, namespace: str, opts: BroadcastOptions) -> List[SocketDetails]:
        local = super().fetch_sockets(namespace, opts)
        if opts.local or self._requests is None:
            return local
        self.use_namespace(namespace)
        request = self._open_request(namespace, MessageType.FETCH_SOCKETS, self.requests_timeout, local)
        if request is None:
            return local
        self.publish(namespace, MessageType.FETCH_SOCKETS, {"opts": wire.opts_to_wire(opts), "requestId": request.id})
        complete, responses = request.result.get()
        if not complete:
            raise TimeoutError(f"timeout reached: {request.describe_missing()}")
        return responses  # type: ignore[no-any-return]

    def server_side_emit(self, namespace: str, event: str, args: List[Any],
                         callback: Optional[Callable[[List[Any]], None]] = None,
                         timeout: Optional[float] = None) -> None:
        self.use_namespace(namespace)
        if callback is None or self._requests is None:
            self.publish(namespace, MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args]})
            return
        request = self._open_request(namespace, MessageType.SERVER_SIDE_EMIT, timeout or self.requests_timeout, [])
        if request is None:
            callback([])
            return
        self.publish(namespace, MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args], "requestId": request.id})
        assert self.host is not None

        def wait() -> None:
            complete, responses = request.result.get()
            if not complete:
                self.logger.warning("server_side_emit %r: timeout reached, %s", event, request.describe_missing())
            callback(responses)

        self.host.runtime.spawn(wait)

    def _open_request(self, namespace: str, kind: MessageType, timeout: float, responses: List[Any]) -> Any:
        """A request to every other node, or None when there is no other node."""
        assert self._requests is not None
        missing = self.expected_responders(namespace)
        if isinstance(missing, int):
            if missing <= 0:
                return None
            return self._requests.open(secrets.token_hex(8), kind, timeout, expected=missing, responses=responses)
        if not missing:
            return None
        return self._requests.open(secrets.token_hex(8), kind, timeout, missing=missing, responses=responses)

    def expected_responders(self, namespace: str) -> Any:
        """How many other nodes must answer (an int), or their uids (a set)."""
        return self.cluster_size(namespace) - 1

    # --------------------------------------------------------------- receiving
    def on_message(self, message: Any) -> None:
        """A message from the transport (any type, this node's own included): validate, then act."""
        try:
            self._on_message(message)
        except wire.WireError as exc:
            self.drops.drop("invalid", str(exc))

    def _on_message(self, message: Any) -> None:
        uid = wire.text(wire.field(message, "uid"), "uid", 64)
        if uid == self.uid:
            return
        mtype = message.get("type")
        if type(mtype) is not int or not 1 <= mtype <= 13:
            raise wire.WireError(f"unknown message type {mtype!r}")
        namespace = wire.text(message.get("nsp"), "nsp", 256)
        self.node_seen(uid, mtype)
        if mtype in _RESPONSE_TYPES:
            self._on_response(uid, namespace, mtype, message.get("data"))
            return
        if mtype <= MessageType.HEARTBEAT or mtype == MessageType.ADAPTER_CLOSE:
            self.on_heartbeat(uid, namespace, mtype)
            return
        if namespace not in self.namespaces:
            return  # Node ignores messages of namespaces it does not serve
        data = message.get("data")
        if type(data) is not dict:
            raise wire.WireError("data must be a map")
        if mtype == MessageType.BROADCAST:
            self._remote_broadcast(uid, namespace, data)
        elif mtype == MessageType.SOCKETS_JOIN:
            MemoryManager.add_sockets(self, namespace, wire.opts_from_wire(data.get("opts"), self.limits),
                                      wire.rooms(data.get("rooms"), self.limits))
        elif mtype == MessageType.SOCKETS_LEAVE:
            MemoryManager.del_sockets(self, namespace, wire.opts_from_wire(data.get("opts"), self.limits),
                                      wire.rooms(data.get("rooms"), self.limits))
        elif mtype == MessageType.DISCONNECT_SOCKETS:
            MemoryManager.disconnect_sockets(self, namespace, wire.opts_from_wire(data.get("opts"), self.limits),
                                             bool(data.get("close")))
        elif mtype == MessageType.FETCH_SOCKETS:
            rid = wire.text(data.get("requestId"), "requestId", 64)
            opts = wire.opts_from_wire(data.get("opts"), self.limits)
            sockets = [details_to_wire(d) for d in MemoryManager.fetch_sockets(self, namespace, opts)]
            self.publish_response(namespace, uid, MessageType.FETCH_SOCKETS_RESPONSE,
                                  {"requestId": rid, "sockets": sockets})
        elif mtype == MessageType.SERVER_SIDE_EMIT:
            self._remote_server_side_emit(uid, namespace, data)

    def on_response(self, message: Any) -> None:
        """A response addressed to this node."""
        self.on_message(message)

    def _on_response(self, uid: str, namespace: str, mtype: int, data: Any) -> None:
        if type(data) is not dict:
            raise wire.WireError("data must be a map")
        rid = data.get("requestId")
        if mtype == MessageType.BROADCAST_CLIENT_COUNT:
            if self._acks is not None and rid in self._acks:
                sids = data.get("sids")
                self._acks.client_count(rid, wire.integer(data.get("clientCount"), "clientCount"),
                                        wire.rooms(sids, self.limits) if sids is not None else None)
        elif mtype == MessageType.BROADCAST_ACK:
            if self._acks is not None and rid in self._acks:
                sid = data.get("sid")
                self._acks.ack(rid, uid, None if sid is None else wire.text(sid, "sid", 256),
                               [data.get("packet")])
        elif self._requests is not None and self._requests.get(rid) is not None:
            if mtype == MessageType.FETCH_SOCKETS_RESPONSE:
                sockets = data.get("sockets")
                if type(sockets) is not list:
                    raise wire.WireError("sockets must be a list")
                self._requests.answer(rid, [details_from_wire(s, namespace) for s in sockets], uid)
            else:
                self._requests.answer(rid, [data.get("packet")], uid)

    def _remote_broadcast(self, uid: str, namespace: str, data: Dict[str, Any]) -> None:
        assert self.host is not None
        packet = wire.packet_from_wire(data.get("packet"), namespace)
        raw_opts = data.get("opts")
        opts = wire.opts_from_wire(raw_opts, self.limits)
        rid = data.get("requestId")
        if rid is None:
            packet = packet if packet.id is None else type(packet)(packet.type, namespace, packet.data)
            MemoryManager.broadcast(self, namespace, packet, opts)
            return
        rid = wire.text(rid, "requestId", 64)
        host = self.host
        ack_id = host.next_ack_id()
        wait = wire.flag_timeout(raw_opts, self.max_ack_wait, self.max_ack_wait)

        def on_count(count: int, sids: List[str]) -> None:
            self.publish_response(namespace, uid, MessageType.BROADCAST_CLIENT_COUNT,
                                  {"requestId": rid, "clientCount": count, "sids": sids})

        def on_ack(sid: str, args: List[Any]) -> None:
            self.publish_response(namespace, uid, MessageType.BROADCAST_ACK,
                                  {"requestId": rid, "packet": args[0] if args else None, "sid": sid})

        relay = AckRelay(ack_id, host.runtime, wait, on_count, on_ack)
        local = type(packet)(packet.type, namespace, packet.data, ack_id)
        MemoryManager.broadcast_with_ack(self, namespace, local, opts, relay)

    def _remote_server_side_emit(self, uid: str, namespace: str, data: Dict[str, Any]) -> None:
        assert self.host is not None
        rid = data.get("requestId")
        reply = None
        if rid is not None:
            rid = wire.text(rid, "requestId", 64)

            def reply(result: Any) -> None:
                self.publish_response(namespace, uid, MessageType.SERVER_SIDE_EMIT_RESPONSE,
                                      {"requestId": rid, "packet": result})

        run_server_side_emit(self.host, self.logger, namespace, data.get("packet"), reply)

    # ------------------------------------------------------- node tracking hooks
    def node_seen(self, uid: str, mtype: int) -> None:  # noqa: B027 - hook for the heartbeat variant
        """Any message from ``uid`` arrived."""

    def on_heartbeat(self, uid: str, namespace: str, mtype: int) -> None:  # noqa: B027
        """INITIAL_HEARTBEAT, HEARTBEAT or ADAPTER_CLOSE from ``uid``."""


def collector_servers(collector: AckCollector) -> int:
    """The server count a collector waits for (the server's collector says; 1 otherwise)."""
    value = getattr(collector, "expected_servers", 1)
    return value if isinstance(value, int) else 1


class ClusterAdapterWithHeartbeat(ClusterAdapter):
    """Counts the nodes it hears: heartbeats every ``heartbeat_interval``, a node silent for
    ``heartbeat_timeout`` is gone (its pending answers are no longer awaited).

    Reference: ``cluster-adapter.ts: ClusterAdapterWithHeartbeat``.
    """

    def __init__(self, *, heartbeat_interval: float = 5.0, heartbeat_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.nodes: Dict[str, float] = {}
        self._timers: List[Any] = []
        self._last_sent = 0.0

    def initialize(self) -> None:
        if self._requests is not None:
            return
        super().initialize()
        assert self.host is not None
        self._timers.append(self.host.runtime.spawn(self._tick))

    def namespace_added(self, namespace: str) -> None:
        self.publish(namespace, MessageType.INITIAL_HEARTBEAT)

    def close(self) -> None:
        for namespace in self.namespaces:
            self.publish(namespace, MessageType.ADAPTER_CLOSE)
        if self.host is not None and self._timers:
            self.host.runtime.killall(self._timers, block=False)
        self._timers.clear()
        super().close()

    def publish(self, namespace: str, mtype: MessageType, data: Optional[Dict[str, Any]] = None) -> None:
        if self.host is not None:
            self._last_sent = self.host.runtime.monotonic()
        super().publish(namespace, mtype, data)

    def _tick(self) -> None:
        assert self.host is not None
        rt = self.host.runtime
        while True:
            rt.sleep(min(1.0, self.heartbeat_interval))
            now = rt.monotonic()
            for uid, seen in list(self.nodes.items()):
                if now - seen > self.heartbeat_timeout:
                    self.remove_node(uid)
            if now - self._last_sent >= self.heartbeat_interval:
                for namespace in list(self.namespaces):
                    self.publish(namespace, MessageType.HEARTBEAT)

    def node_seen(self, uid: str, mtype: int) -> None:
        if uid != EMITTER_UID and mtype != MessageType.ADAPTER_CLOSE and self.host is not None:
            self.nodes[uid] = self.host.runtime.monotonic()

    def on_heartbeat(self, uid: str, namespace: str, mtype: int) -> None:
        if mtype == MessageType.INITIAL_HEARTBEAT:
            self.publish(namespace, MessageType.HEARTBEAT)
        elif mtype == MessageType.ADAPTER_CLOSE:
            self.remove_node(uid)

    def remove_node(self, uid: str) -> None:
        self.nodes.pop(uid, None)
        if self._requests is not None:
            self._requests.node_left(uid)

    def cluster_size(self, namespace: str) -> int:
        return 1 + len(self.nodes)

    def expected_responders(self, namespace: str) -> Any:
        return set(self.nodes)
