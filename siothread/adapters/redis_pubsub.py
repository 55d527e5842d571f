"""``RedisManager``: the classic Redis pub/sub adapter, on the wire of Node's ``createAdapter``.

Per namespace ``nsp`` and key ``channel`` (``"socket.io"`` by default), as
``@socket.io/redis-adapter`` 8.x names them:

- broadcasts: ``<key>#<nsp>#`` (``<key>#<nsp>#<room>#`` when the target is one
  room), each message msgpack ``[uid, packet, opts]``; this node subscribes
  with the pattern ``<key>#<nsp>#*`` and skips a room channel at once when it
  has no member of that room;
- requests ``<key>-request#<nsp>#`` and responses ``<key>-response#<nsp>#``
  (and ``<key>-response#<nsp>#<uid>#``): JSON, or msgpack where binary may
  travel, typed by Node's ``RequestType`` numbers;
- ``server_count()`` is ``PUBSUB NUMSUB`` of the request channel (every node,
  siothread or Node, subscribes to it once).

A broadcast from another node is decoded once and handed to ``host.deliver``
with the local recipients: the same encode-once path as a local broadcast.
Acks of a broadcast sent from here come back per sid from siothread nodes, as a
count plus values from Node nodes. ``get_participants`` and ``get_rooms`` stay
local (python-socketio's behaviour); ``fetch_sockets`` is cluster-wide.

``RedisManager(url, write_only=True)`` is python-socketio's spelling for an
emitter: it only publishes (``emit``), like :class:`~siothread.adapters.emitter.RedisEmitter`.

Reference: ``socketio/socket.io-redis-adapter: lib/index.ts``.
"""
from __future__ import annotations

import enum
import functools
import logging
import secrets
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..errors import TimeoutError
from ..protocol.socketio import Packet, PacketType
from . import wire
from .base import AckCollector, BroadcastOptions, SocketDetails
from .cluster import details_from_wire, details_to_wire
from .forking import ForkSafeNode
from .memory import MemoryManager
from .redis_link import LinkUnavailable, RedisLink
from .requests import AckForwarding, AckRelay, PendingRequests, TooManyRequests, run_server_side_emit

if TYPE_CHECKING:  # pragma: no cover
    from .emitter import RedisEmitter

__all__ = ["RedisManager", "RequestType"]


class RequestType(enum.IntEnum):
    """``@socket.io/redis-adapter``'s request types."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


class _Channels:
    __slots__ = ("broadcast", "request", "response", "specific")

    def __init__(self, key: str, namespace: str, uid: str) -> None:
        self.broadcast = f"{key}#{namespace}#"
        self.request = f"{key}-request#{namespace}#"
        self.response = f"{key}-response#{namespace}#"
        self.specific = f"{self.response}{uid}#"


class RedisManager(ForkSafeNode, MemoryManager):
    """Rooms and broadcasts across every node on one Redis (``Server(client_manager=RedisManager(url))``).

    Args:
        url: Redis URL (``redis://``, ``rediss://``, ``unix://``).
        channel: the key prefix (Node's ``key``), ``"socket.io"`` by default.
        write_only: only publish (an emitter for scripts and workers): no
            subscription, no server needed; use :meth:`emit`.
        logger: where dropped-message and connection lines go.
        redis_options: extra arguments for redis-py's ``Redis.from_url``.
        requests_timeout: seconds to wait for other nodes' answers (Node's 5 s).
        publish_timeout: bound of every Redis call (a stalled Redis never blocks longer).
        publish_on_specific_response_channel: Node's option of the same name.
        max_pending_requests: requests waiting for answers at one time (row A5).
        max_ack_wait: longest this node keeps ack entries for another node's broadcast.
        limits: caps for decoded messages.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: Optional[logging.Logger] = None,
        redis_options: Optional[Dict[str, Any]] = None,
        *,
        requests_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        max_pending_requests: int = 1000,
        max_ack_wait: float = 60.0,
        limits: Optional[wire.WireLimits] = None,
    ) -> None:
        super().__init__()
        if not isinstance(channel, str) or not channel or "#" in channel:
            raise ValueError("channel must be a non-empty string without '#'")
        self.url = url
        self.key = channel
        self.write_only = write_only
        self.uid = secrets.token_hex(3)  # Node's uid2(6)
        self.logger = logger or logging.getLogger("siothread.redis")
        self.requests_timeout = requests_timeout
        self.specific_responses = publish_on_specific_response_channel
        self.max_pending_requests = max_pending_requests
        self.max_ack_wait = max_ack_wait
        self.limits = limits or wire.DEFAULT_LIMITS
        self.drops = wire.DropLog(self.logger)
        self._link_factory = functools.partial(RedisLink, url, None if write_only else self._on_redis_message,
                                               redis_options=redis_options, publish_timeout=publish_timeout,
                                               log=self.logger)
        self.link = self._link_factory()
        self._channels: Dict[str, _Channels] = {}
        self._requests: Optional[PendingRequests] = None
        self._acks: Optional[AckForwarding] = None
        self._emitter: Optional["RedisEmitter"] = None
        if write_only:
            from .emitter import RedisEmitter

            self._emitter = RedisEmitter(url, channel=channel, redis_options=redis_options,
                                         publish_timeout=publish_timeout)

    # ---------------------------------------------------------------- lifecycle
    def attach(self, host: Any) -> None:
        """Join the cluster as soon as the server exists (Node's adapter subscribes at creation),
        so a node without clients still answers requests and counts in ``server_count``."""
        super().attach(host)
        self.initialize()

    def initialize(self) -> None:
        """Join the cluster from this process (see :mod:`~siothread.adapters.forking` for forks)."""
        if not self.write_only:
            super().initialize()

    def _join(self) -> None:
        assert self.host is not None
        self._requests = PendingRequests(self.host.runtime, self.max_pending_requests)
        self._acks = AckForwarding(self.host.runtime, self.max_pending_requests)
        known, self._channels = ["/", *self._channels], {}
        for namespace in known:  # channel names hold the uid: made again after a new one
            self.use_namespace(namespace)
        self.link.start()

    def close(self) -> None:
        if self._emitter is not None:
            self._emitter.close()
        super().close()

    def status(self) -> Dict[str, Any]:
        """Health for a readiness probe: connected, degraded since (epoch seconds), counters."""
        out = self.link.status()
        out["dropped_invalid"] = self.drops.total
        out["pending_requests"] = len(self._requests) if self._requests is not None else 0
        return out

    def use_namespace(self, namespace: str) -> _Channels:
        """Subscribe to ``namespace``'s channels (once)."""
        channels = self._channels.get(namespace)
        if channels is None:
            channels = self._channels[namespace] = _Channels(self.key, namespace, self.uid)
            if not self.write_only:
                self.link.subscribe(channels=[channels.request, channels.response, channels.specific],
                                    patterns=[channels.broadcast + "*"])
        return channels

    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        if namespace not in self._channels:
            self.use_namespace(namespace)
        super().connect(namespace, sid, eio_sid)

    def _publish(self, channel: str, message: Any, binary: bool = False) -> None:
        try:
            payload = wire.encode_msgpack(message) if binary else wire.encode_auto(message)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot send to other nodes: %s", exc)
            return
        self.link.publish(channel, payload)

    # -------------------------------------------------------------- server count
    def server_count(self, namespace: str = "/") -> int:
        """Nodes subscribed to the namespace's request channel (1 when Redis cannot say)."""
        if self.write_only:
            return 1
        try:
            reply = self.link.command("PUBSUB", "NUMSUB", self.use_namespace(namespace).request)
            return max(1, int(reply[1]))
        except (LinkUnavailable, IndexError, TypeError, ValueError):
            return 1

    # ------------------------------------------------------------ broadcasting
    def broadcast(self, namespace: str, packet: "Packet", opts: BroadcastOptions) -> int:
        if self._emitter is not None:
            # write_only (a Server used as an emitter, python-socketio's spelling): the
            # servers of the cluster deliver; this one has no clients of its own.
            op = self._emitter.of(namespace)
            if opts.rooms:
                op = op.to(sorted(opts.rooms))
            if opts.except_rooms:
                op = op.except_(sorted(opts.except_rooms))
            if opts.volatile:
                op = op.volatile()
            if opts.compress is not None:
                op = op.compress(opts.compress)
            op.emit(packet.data[0], *packet.data[1:])
            return 0
        if not opts.local and not self.write_only:
            channels = self.use_namespace(namespace)
            channel = channels.broadcast
            if len(opts.rooms) == 1:
                channel += next(iter(opts.rooms)) + "#"
            self._publish(channel, [self.uid, wire.packet_to_wire(packet), wire.opts_to_wire(opts)], binary=True)
        return super().broadcast(namespace, packet, opts)

    def broadcast_with_ack(self, namespace: str, packet: "Packet", opts: BroadcastOptions,
                           collector: AckCollector) -> None:
        if not opts.local and self._acks is not None:
            channels = self.use_namespace(namespace)
            timeout = getattr(collector, "timeout", None)
            keep = min(timeout, self.max_ack_wait) if timeout is not None else self.max_ack_wait
            if namespace != "/":
                missing = getattr(collector, "expected_servers", 1) - self.server_count(namespace)
                for _ in range(max(0, missing)):
                    collector.server_reached(0)  # nodes without this namespace answer nothing
            rid = secrets.token_hex(3)
            if self._acks.add(rid, collector, keep):
                self._publish(channels.request, {
                    "uid": self.uid, "requestId": rid, "type": int(RequestType.BROADCAST),
                    "packet": wire.packet_to_wire(packet), "opts": wire.opts_to_wire(opts, keep),
                }, binary=True)
        super().broadcast_with_ack(namespace, packet, opts, collector)

    def emit(self, event: str, data: Any = None, namespace: Optional[str] = None, room: Any = None,
             skip_sid: Any = None, callback: Any = None, to: Any = None, **kwargs: Any) -> None:
        """python-socketio's ``write_only`` manager API: publish an event for the servers to deliver."""
        if self._emitter is None:
            raise RuntimeError("emit() on a manager is for write_only=True; servers use sio.emit()")
        if callback is not None:
            raise ValueError("an emitter cannot receive acknowledgements")
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        ns = namespace or "/"
        opts = BroadcastOptions.build(to if to is not None else room, skip_sid)
        self.broadcast(ns, Packet(PacketType.EVENT, ns, [event, *args]), opts)

    # ------------------------------------------------------- socket management
    def _request(self, namespace: str, rtype: RequestType, opts: BroadcastOptions, **extra: Any) -> None:
        message = {"uid": self.uid, "type": int(rtype),
                   "opts": {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)}, **extra}
        self._publish(self.use_namespace(namespace).request, message)

    def add_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        if opts.local or self.write_only:
            super().add_sockets(namespace, opts, rooms)
            return
        self._request(namespace, RequestType.REMOTE_JOIN, opts, rooms=rooms)
        super().add_sockets(namespace, opts, rooms)

    def del_sockets(self, namespace: str, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        if not opts.local and not self.write_only:
            self._request(namespace, RequestType.REMOTE_LEAVE, opts, rooms=rooms)
        super().del_sockets(namespace, opts, rooms)

    def close_room(self, namespace: str, room: str) -> None:
        """Every member of ``room``, on every node, leaves it."""
        self.del_sockets(namespace, BroadcastOptions.build(room), [room])

    def disconnect_sockets(self, namespace: str, opts: BroadcastOptions, close: bool = False) -> None:
        if not opts.local and not self.write_only:
            self._request(namespace, RequestType.REMOTE_DISCONNECT, opts, close=bool(close))
        super().disconnect_sockets(namespace, opts, close)

    def _wait_for(self, namespace: str, rtype: RequestType, expected: int, message: Dict[str, Any],
                  responses: List[Any], timeout: float) -> Tuple[bool, List[Any]]:
        assert self._requests is not None
        rid = secrets.token_hex(3)
        request = self._requests.open(rid, int(rtype), timeout, expected=expected, responses=responses)
        message.update(uid=self.uid, requestId=rid, type=int(rtype))
        self._publish(self.use_namespace(namespace).request, message)
        return request.result.get()  # type: ignore[no-any-return]

    def fetch_sockets(self, namespace: str, opts: BroadcastOptions) -> List[SocketDetails]:
        local = super().fetch_sockets(namespace, opts)
        if opts.local or self._requests is None:
            return local
        others = self.server_count(namespace) - 1
        if others <= 0:
            return local
        complete, sockets = self._wait_for(
            namespace, RequestType.REMOTE_FETCH, others,
            {"opts": {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)}}, local,
            self.requests_timeout)
        if not complete:
            raise TimeoutError("timeout reached while waiting for fetchSockets response")
        return sockets

    def server_side_emit(self, namespace: str, event: str, args: List[Any],
                         callback: Optional[Callable[[List[Any]], None]] = None,
                         timeout: Optional[float] = None) -> None:
        channels = self.use_namespace(namespace)
        if callback is None or self._requests is None or self.host is None:
            self._publish(channels.request, {"uid": self.uid, "type": int(RequestType.SERVER_SIDE_EMIT),
                                             "data": [event, *args]})
            return
        others = self.server_count(namespace) - 1
        if others <= 0:
            callback([])
            return
        message = {"data": [event, *args]}

        def wait() -> None:
            try:
                complete, responses = self._wait_for(namespace, RequestType.SERVER_SIDE_EMIT, others, message, [],
                                                     timeout or self.requests_timeout)
            except TooManyRequests as exc:
                self.logger.error("server_side_emit %r: %s", event, exc)
                complete, responses = False, []
            if not complete:
                self.logger.warning("server_side_emit %r: timeout reached, %d of %d answers", event,
                                    len(responses), others)
            callback(responses)

        self.host.runtime.spawn(wait)

    # --------------------------------------------------------------- receiving
    def _on_redis_message(self, channel: str, data: bytes) -> None:
        try:
            self._dispatch(channel, data)
        except wire.WireError as exc:
            self.drops.drop("invalid", f"on {channel}: {exc}")

    def _namespace_of(self, channel: str) -> Tuple[Optional[str], str]:
        """(namespace, kind) of a subscribed channel; kind is 'broadcast', 'request' or 'response'."""
        for namespace, channels in self._channels.items():
            if channel.startswith(channels.broadcast):
                return namespace, "broadcast"
            if channel == channels.request:
                return namespace, "request"
            if channel == channels.response or channel == channels.specific:
                return namespace, "response"
        return None, ""

    def _dispatch(self, channel: str, data: bytes) -> None:
        namespace, kind = self._namespace_of(channel)
        if namespace is None:
            return
        if kind == "broadcast":
            room = channel[len(self._channels[namespace].broadcast):-1]
            if room and not self.room_size(namespace, room):
                return  # nobody here is in that room: not even decoded
            message = wire.decode(data, self.limits)
            if type(message) is not list or len(message) < 2:
                raise wire.WireError("a broadcast is [uid, packet, opts]")
            if message[0] == self.uid:
                return
            packet = wire.packet_from_wire(message[1], namespace)
            opts = wire.opts_from_wire(message[2] if len(message) > 2 else None, self.limits)
            MemoryManager.broadcast(self, namespace, packet, opts)
        elif kind == "request":
            self._on_request(namespace, wire.decode(data, self.limits))
        else:
            self._on_response(namespace, wire.decode(data, self.limits))

    def _respond(self, namespace: str, request: Dict[str, Any], response: Dict[str, Any],
                 binary: bool = False) -> None:
        channels = self._channels[namespace]
        channel = channels.response
        if self.specific_responses and type(request.get("uid")) is str:
            channel = f"{channels.response}{request['uid']}#"
        self._publish(channel, response, binary)

    def _on_request(self, namespace: str, request: Any) -> None:
        if type(request) is not dict:
            raise wire.WireError("a request must be a map")
        if request.get("uid") == self.uid:
            return
        rtype = request.get("type")
        rid = request.get("requestId")
        if rid is not None:
            rid = wire.text(rid, "requestId", 64)
        if rtype == RequestType.BROADCAST:
            self._remote_broadcast_with_ack(namespace, request, wire.text(rid, "requestId", 64))
        elif rtype in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT):
            self._remote_management(namespace, request, rtype, rid)
        elif rtype == RequestType.REMOTE_FETCH:
            opts = wire.opts_from_wire(request.get("opts"), self.limits)
            sockets = [details_to_wire(d) for d in MemoryManager.fetch_sockets(self, namespace, opts)]
            self._respond(namespace, request, {"requestId": rid, "sockets": sockets})
        elif rtype == RequestType.SOCKETS:
            opts = BroadcastOptions.build(wire.rooms(request.get("rooms"), self.limits))
            self._respond(namespace, request, {"requestId": rid, "sockets": self.select(namespace, opts)})
        elif rtype == RequestType.ALL_ROOMS:
            self._respond(namespace, request, {"requestId": rid, "rooms": list(self._rooms.get(namespace, {}))})
        elif rtype == RequestType.SERVER_SIDE_EMIT:
            self._remote_server_side_emit(namespace, request, rid)
        else:
            raise wire.WireError(f"unknown request type {rtype!r}")

    def _remote_management(self, namespace: str, request: Dict[str, Any], rtype: int, rid: Optional[str]) -> None:
        if request.get("opts") is not None:
            opts = wire.opts_from_wire(request.get("opts"), self.limits)
            if rtype == RequestType.REMOTE_DISCONNECT:
                MemoryManager.disconnect_sockets(self, namespace, opts, bool(request.get("close")))
            elif rtype == RequestType.REMOTE_JOIN:
                MemoryManager.add_sockets(self, namespace, opts, wire.rooms(request.get("rooms"), self.limits))
            else:
                MemoryManager.del_sockets(self, namespace, opts, wire.rooms(request.get("rooms"), self.limits))
            return
        # the older one-socket form: {sid, room} / {sid, close}
        sid = wire.text(request.get("sid"), "sid", 256)
        if not self.is_connected(namespace, sid):
            return
        assert self.host is not None
        if rtype == RequestType.REMOTE_DISCONNECT:
            self.host.local_disconnect(sid, bool(request.get("close")))
        elif rtype == RequestType.REMOTE_JOIN:
            self.enter_room(namespace, sid, wire.text(request.get("room"), "room"))
        else:
            self.leave_room(namespace, sid, wire.text(request.get("room"), "room"))
        self._respond(namespace, request, {"requestId": rid})

    def _remote_broadcast_with_ack(self, namespace: str, request: Dict[str, Any], rid: str) -> None:
        if self._acks is not None and rid in self._acks:
            return  # our own
        assert self.host is not None
        packet = wire.packet_from_wire(request.get("packet"), namespace)
        raw_opts = request.get("opts")
        opts = wire.opts_from_wire(raw_opts, self.limits)
        wait = wire.flag_timeout(raw_opts, self.max_ack_wait, self.max_ack_wait)

        def on_count(count: int, sids: List[str]) -> None:
            self._respond(namespace, request, {"type": int(RequestType.BROADCAST_CLIENT_COUNT), "requestId": rid,
                                               "clientCount": count, "sids": sids})

        def on_ack(sid: str, args: List[Any]) -> None:
            self._respond(namespace, request, {"type": int(RequestType.BROADCAST_ACK), "requestId": rid,
                                               "packet": args[0] if args else None, "sid": sid}, binary=True)

        ack_id = self.host.next_ack_id()
        relay = AckRelay(ack_id, self.host.runtime, wait, on_count, on_ack)
        MemoryManager.broadcast_with_ack(self, namespace, type(packet)(packet.type, namespace, packet.data, ack_id),
                                         opts, relay)

    def _remote_server_side_emit(self, namespace: str, request: Dict[str, Any], rid: Optional[str]) -> None:
        assert self.host is not None
        reply = None
        if rid is not None:

            def reply(result: Any) -> None:
                # Node answers server-side emits on the shared response channel
                self._publish(self._channels[namespace].response,
                              {"type": int(RequestType.SERVER_SIDE_EMIT), "requestId": rid, "data": result})

        run_server_side_emit(self.host, self.logger, namespace, request.get("data"), reply)

    def _on_response(self, namespace: str, response: Any) -> None:
        if type(response) is not dict:
            raise wire.WireError("a response must be a map")
        rid = response.get("requestId")
        acks = self._acks
        if acks is not None and rid in acks:
            rtype = response.get("type")
            if rtype == RequestType.BROADCAST_CLIENT_COUNT:
                sids = response.get("sids")
                acks.client_count(rid, wire.integer(response.get("clientCount"), "clientCount"),
                                  wire.rooms(sids, self.limits) if sids is not None else None)
            elif rtype == RequestType.BROADCAST_ACK:
                sid = response.get("sid")
                acks.ack(rid, "node", None if sid is None else wire.text(sid, "sid", 256), [response.get("packet")])
            return
        requests = self._requests
        request = requests.get(rid) if requests is not None else None
        if request is None or requests is None:
            return
        if request.kind == RequestType.REMOTE_FETCH:
            sockets = response.get("sockets")
            if type(sockets) is not list:
                raise wire.WireError("sockets must be a list")
            requests.answer(rid, [details_from_wire(s, namespace) for s in sockets])
        elif request.kind == RequestType.SERVER_SIDE_EMIT:
            requests.answer(rid, [response.get("data")])
