"""An in-memory Engine.IO server with the same interface as ``siothread.engine.Server``.

Every Socket.IO packet goes through the real codec both ways: what the server
sends is decoded by a client-role ``Decoder``, what a test peer sends is
encoded with the real ``encode`` (STYLE tier (b)). Handlers are called the way
the real engine calls them: ``message`` in the sending greenlet (the peer's
"reader"), in order.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from siothread.engine._runtime import RUNTIME
from siothread.protocol import socketio as sioproto

Message = Union[str, bytes]


class FakePrepared:
    def __init__(self, messages: Sequence[Message], compress: bool) -> None:
        self.messages = tuple(messages)
        self.compress = compress


class FakePeer:
    """The client end of one fake Engine.IO session."""

    def __init__(self, engine: "FakeEngine", sid: str, environ: dict, serializer: str) -> None:
        self.engine = engine
        self.sid = sid
        self.environ = environ
        self.raw: List[Message] = []
        self.writes: List[tuple] = []  # one entry per engine write (a prepared = one write)
        self.packets: List[sioproto.Packet] = []
        self.closed = False
        self.close_reason: Optional[str] = None
        self.writable = True
        self._changed = RUNTIME.Event()
        if serializer == "msgpack":
            from siothread.protocol import msgpack_codec

            self._decoder: Any = msgpack_codec.Decoder(sioproto.Limits(), role="client")
            self._encode: Callable[[Any], List[Message]] = msgpack_codec.encode
        else:
            self._decoder = sioproto.Decoder(sioproto.Limits(), role="client")
            self._encode = sioproto.encode

    # -- server -> peer ----------------------------------------------------
    def _receive(self, messages: Sequence[Message]) -> None:
        self.writes.append(tuple(messages))
        for message in messages:
            self.raw.append(message)
            packet = self._decoder.feed(message)
            if packet is not None:
                self.packets.append(packet)
        self._changed.set()

    # -- peer -> server ----------------------------------------------------
    def send_raw(self, message: Message) -> None:
        """One Engine.IO MESSAGE from the client, delivered like the reader greenlet does."""
        if self.closed:
            raise RuntimeError("session closed")
        self.engine._on_message(self.sid, message)

    def send(self, packet: sioproto.Packet) -> None:
        for message in self._encode(packet):
            self.send_raw(message)

    def connect(self, namespace: str = "/", auth: Any = None) -> None:
        self.send(sioproto.Packet(sioproto.PacketType.CONNECT, namespace, auth))

    def emit(self, event: str, *args: Any, namespace: str = "/", id: Optional[int] = None) -> None:
        self.send(sioproto.Packet(sioproto.PacketType.EVENT, namespace, [event, *args], id))

    def ack(self, ack_id: int, *args: Any, namespace: str = "/") -> None:
        self.send(sioproto.Packet(sioproto.PacketType.ACK, namespace, list(args), ack_id))

    def leave(self, namespace: str = "/") -> None:
        self.send(sioproto.Packet(sioproto.PacketType.DISCONNECT, namespace))

    def close(self) -> None:
        """The client closes the Engine.IO connection."""
        self.engine._close(self.sid, "client disconnect")

    # -- waiting -----------------------------------------------------------
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
        deadline = RUNTIME.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - RUNTIME.monotonic()
            if left <= 0:
                raise AssertionError("condition not met in time")
            self._changed.clear()
            self._changed.wait(min(left, 0.05))

    def find(self, ptype: Optional[sioproto.PacketType] = None, namespace: Optional[str] = None,
             event: Optional[str] = None) -> List[sioproto.Packet]:
        out = []
        for p in self.packets:
            if ptype is not None and p.type != ptype:
                continue
            if namespace is not None and p.namespace != namespace:
                continue
            if event is not None and not (p.type == sioproto.PacketType.EVENT and p.data[0] == event):
                continue
            out.append(p)
        return out

    def wait_packet(self, ptype: Optional[sioproto.PacketType] = None, namespace: Optional[str] = None,
                    event: Optional[str] = None, timeout: float = 3.0, count: int = 1) -> sioproto.Packet:
        found = self.wait_for(lambda: len(self.find(ptype, namespace, event)) >= count and
                              self.find(ptype, namespace, event), timeout)
        return found[count - 1]  # type: ignore[no-any-return]

    def connected_sid(self, namespace: str = "/", timeout: float = 3.0) -> str:
        packet = self.wait_packet(sioproto.PacketType.CONNECT, namespace, timeout=timeout)
        return packet.data["sid"]  # type: ignore[no-any-return]

    def events(self, namespace: str = "/") -> List[list]:
        return [p.data for p in self.find(sioproto.PacketType.EVENT, namespace)]


class FakeEngine:
    """``siothread.engine.Server``'s interface, in memory."""

    instances: List["FakeEngine"] = []

    def __init__(self, *, runtime: Any = None, logger: Any = None, **options: Any) -> None:
        self.options = options
        self.runtime = runtime or RUNTIME
        # the one engine option the Socket.IO layer reads (the attachment cap)
        self.config = SimpleNamespace(max_http_buffer_size=options.get("max_http_buffer_size", 1_000_000))
        self.handlers: Dict[str, Callable[..., Any]] = {}
        self.peers: Dict[str, FakePeer] = {}
        self.accepting = True
        self.prepare_calls = 0
        self.send_calls = 0
        self.shutdown_calls: List[tuple] = []
        self.observers: List[Any] = []
        self._n = 0
        FakeEngine.instances.append(self)

    # -- interface ---------------------------------------------------------
    def on(self, event: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = fn
            return fn

        return register if handler is None else register(handler)

    def send(self, sid: str, data: Message) -> bool:
        self.send_calls += 1
        peer = self.peers.get(sid)
        if peer is None:
            return False
        peer._receive([data])
        return True

    def prepare(self, messages: Sequence[Message], *, compress: bool = True) -> FakePrepared:
        self.prepare_calls += 1
        return FakePrepared(messages, compress)

    def send_prepared(self, sid: str, prepared: FakePrepared, *, volatile: bool = False) -> bool:
        peer = self.peers.get(sid)
        if peer is None:
            return False
        if volatile and not peer.writable:
            return False
        peer._receive(prepared.messages)
        return True

    def disconnect(self, sid: str, reason: str = "server disconnect") -> None:
        self._close(sid, reason)

    def transport(self, sid: str) -> str:
        if sid not in self.peers:
            raise KeyError("unknown session")
        return "websocket"

    def is_connected(self, sid: str) -> bool:
        return sid in self.peers

    def environ(self, sid: str) -> dict:
        return self.peers[sid].environ

    def handle_request(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"the fake engine serves no HTTP"]

    def stop_accepting(self) -> None:
        self.accepting = False

    def shutdown(self, timeout: float = 5.0, reason: str = "server shutting down") -> None:
        self.shutdown_calls.append((timeout, reason))
        self.accepting = False
        for sid in list(self.peers):
            self._close(sid, reason)

    def start_background_task(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.runtime.spawn(fn, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        self.runtime.sleep(seconds)

    # -- test side ---------------------------------------------------------
    def open(self, environ: Optional[dict] = None, serializer: str = "default") -> FakePeer:
        """A new Engine.IO session (the handshake); raises if the server refuses it."""
        if not self.accepting:
            raise ConnectionRefusedError("not accepting")
        self._n += 1
        sid = f"eio{self._n}"
        env = {"REMOTE_ADDR": "127.0.0.1", "QUERY_STRING": "EIO=4&transport=websocket",
               "PATH_INFO": "/socket.io/", "HTTP_USER_AGENT": "fake"}
        env.update(environ or {})
        peer = FakePeer(self, sid, env, serializer)
        self.peers[sid] = peer
        handler = self.handlers.get("connect")
        if handler is not None and handler(sid, env) is False:
            del self.peers[sid]
            raise ConnectionRefusedError("refused by the connect handler")
        return peer

    def _on_message(self, sid: str, message: Message) -> None:
        if sid not in self.peers:
            return
        self.handlers["message"](sid, message)

    def _close(self, sid: str, reason: str) -> None:
        peer = self.peers.pop(sid, None)
        if peer is None:
            return
        peer.closed = True
        peer.close_reason = reason
        peer._changed.set()
        handler = self.handlers.get("disconnect")
        if handler is not None:
            handler(sid, reason)
