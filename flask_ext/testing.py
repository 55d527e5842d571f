"""``socketio.test_client(app)``: a Socket.IO client for tests that needs no network.

It speaks Engine.IO long-polling to the app through Flask's own test client
(``app.test_client()``, or the ``flask_test_client`` given, whose cookies then
go with the handshake), so every packet crosses the real WSGI middleware, the
real Engine.IO server and the real Socket.IO codec, binary attachments
included; message queues and other test clients are real too. Flask-SocketIO's
test client instead replaces the server's send functions and feeds packets to
its internals (Flask-SocketIO#366, #2063).

As in Flask-SocketIO, the server runs handlers inline while a test client
exists (``server.async_handlers = False``): when :meth:`emit` returns, the
handler has run and what it emitted is queued for :meth:`get_received`.
"""
from __future__ import annotations

import json as _json
import time
from typing import Any, Dict, List, Optional, Union

from siothread.protocol import engineio as eio
from siothread.protocol import socketio as sio

__all__ = ["SocketIOTestClient"]

_WAIT = 5.0  # seconds to wait for an answer the server owes (a CONNECT reply, an ack)


class SocketIOTestClient:
    """A test client for one app; connected to ``namespace`` on creation.

    ``get_received(namespace)`` returns ``[{"name", "args", "namespace"}]``:
    ``args`` is the list of arguments, or the single argument for ``'message'``
    and ``'json'`` events (Flask-SocketIO's format).
    """

    def __init__(self, app: Any, socketio: Any, namespace: Optional[str] = None, query_string: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None, auth: Optional[Dict[str, Any]] = None,
                 flask_test_client: Any = None) -> None:
        self.app = app
        self.socketio = socketio
        self.flask_test_client = flask_test_client
        self._http = flask_test_client if flask_test_client is not None else app.test_client()
        self._url = "/" + socketio.path + "/"
        self.eio_sid: Optional[str] = None
        self.connected: Dict[str, bool] = {}
        self.sids: Dict[str, str] = {}
        self.connect_errors: Dict[str, Any] = {}
        self.queue: List[Dict[str, Any]] = []
        self.acks: Dict[int, List[Any]] = {}
        self.callback_counter = 0
        self._decoder = sio.Decoder(role="client")
        socketio._require_server().async_handlers = False
        self.connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)

    # ------------------------------------------------------------ state
    def is_connected(self, namespace: Optional[str] = None) -> bool:
        """Whether ``namespace`` (``'/'``) is connected."""
        self._pump()
        return self.connected.get(namespace or "/", False)

    def get_sid(self, namespace: Optional[str] = None) -> Optional[str]:
        """The Socket.IO sid of ``namespace`` (``request.sid`` in its handlers)."""
        return self.sids.get(namespace or "/")

    def get_connect_error(self, namespace: Optional[str] = None) -> Any:
        """The CONNECT_ERROR payload of a refused connection (``{"message", "data"?}``), else None."""
        return self.connect_errors.get(namespace or "/")

    # ------------------------------------------------------------ connection
    def connect(self, namespace: Optional[str] = None, query_string: Optional[str] = None,
                headers: Optional[Dict[str, str]] = None, auth: Optional[Dict[str, Any]] = None) -> None:
        """Connect ``namespace``; opens the Engine.IO session first if needed.

        A refusal leaves :meth:`is_connected` False and the payload in
        :meth:`get_connect_error`.
        """
        ns = namespace or "/"
        if self.eio_sid is None:
            self._handshake(query_string, headers)
        self.connect_errors.pop(ns, None)
        self.connected.pop(ns, None)
        self._send_packet(sio.Packet(sio.PacketType.CONNECT, ns, auth))
        self._pump(until=lambda: ns in self.connected)

    def disconnect(self, namespace: Optional[str] = None) -> None:
        """Disconnect ``namespace``; the last one closes the Engine.IO session."""
        ns = namespace or "/"
        if not self.is_connected(ns):
            raise RuntimeError("not connected")
        self._send_packet(sio.Packet(sio.PacketType.DISCONNECT, ns))
        self.connected.pop(ns, None)
        self.sids.pop(ns, None)
        if not any(self.connected.values()):
            self.close()

    def close(self) -> None:
        """End the Engine.IO session, and with it every namespace still connected."""
        if self.eio_sid is not None:
            self._post(eio.encode_payload([eio.packet(eio.PacketType.CLOSE)]))
        self._lost()

    # ------------------------------------------------------------ sending
    def emit(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emit ``event``; with ``callback=True`` return the server's ack.

        The ack is its single argument, or the list of its arguments when it
        has none or several (Flask-SocketIO's format).
        """
        namespace = kwargs.pop("namespace", None) or "/"
        callback = kwargs.pop("callback", False)
        if kwargs:
            raise TypeError(f"unexpected argument(s): {', '.join(sorted(kwargs))}")
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        ack_id = None
        if callback:
            self.callback_counter += 1
            ack_id = self.callback_counter
        self._send_packet(sio.Packet(sio.PacketType.EVENT, namespace, [event, *args], ack_id))
        if ack_id is None:
            self._pump()
            return None
        self._pump(until=lambda: ack_id in self.acks)
        if ack_id not in self.acks:
            raise TimeoutError(f"no acknowledgement for {event!r}")
        ack = self.acks.pop(ack_id)
        return ack[0] if len(ack) == 1 else ack

    def send(self, data: Any, json: bool = False, callback: bool = False, namespace: Optional[str] = None) -> Any:
        """Send a ``'message'`` event (``'json'`` with ``json=True``)."""
        return self.emit("json" if json else "message", data, callback=callback, namespace=namespace)

    def get_received(self, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """The events received on ``namespace`` since the last call."""
        ns = namespace or "/"
        if not self.is_connected(ns):
            raise RuntimeError("not connected")
        mine = [item for item in self.queue if item["namespace"] == ns]
        self.queue = [item for item in self.queue if item["namespace"] != ns]
        return mine

    # ------------------------------------------------------------ transport
    def _handshake(self, query_string: Optional[str], headers: Optional[Dict[str, str]]) -> None:
        query = "EIO=4&transport=polling"
        if query_string:
            query += "&" + query_string.lstrip("?&")
        response = self._http.get(self._url, query_string=query, headers=headers or {})
        body = response.get_data(as_text=True)
        if response.status_code != 200 or not body.startswith("0"):
            raise ConnectionError(f"Engine.IO handshake refused: {response.status_code} {body[:200]}")
        self.eio_sid = _json.loads(body[1:])["sid"]
        self._decoder.reset()

    def _query(self) -> str:
        return f"EIO=4&transport=polling&sid={self.eio_sid}"

    def _post(self, payload: str) -> None:
        response = self._http.post(self._url, query_string=self._query(), data=payload.encode("utf-8"),
                                   content_type="text/plain;charset=UTF-8")
        if response.status_code != 200:
            self._lost()

    def _send_packet(self, packet: sio.Packet) -> None:
        if self.eio_sid is None:
            raise RuntimeError("not connected")
        messages = sio.encode(packet)
        self._post(eio.encode_payload([eio.packet(eio.PacketType.MESSAGE, m) for m in messages]))

    def _pump(self, until: Any = None, timeout: float = _WAIT) -> None:
        """Take what the server has queued; with ``until``, keep waiting (up to ``timeout``) for it."""
        server = self.socketio._require_server()
        deadline = time.monotonic() + timeout
        while self.eio_sid is not None:
            if server.eio.queued(self.eio_sid) > 0:
                self._poll()
                continue
            if not server.eio.is_connected(self.eio_sid):
                self._poll()  # the server closed the session: what it still owes, then CLOSE (or 400)
                self._lost()
                return
            if until is None or until() or time.monotonic() > deadline:
                return
            server.sleep(0.005)

    def _poll(self) -> None:
        response = self._http.get(self._url, query_string=self._query())
        if response.status_code != 200:
            self._lost()
            return
        for packet in eio.decode_payload(response.get_data()):
            if packet.type is eio.PacketType.PING:
                self._post(eio.encode_payload([eio.packet(eio.PacketType.PONG, packet.data)]))
            elif packet.type is eio.PacketType.CLOSE:
                self._lost()
                return
            elif packet.type is eio.PacketType.MESSAGE and packet.data is not None:
                decoded = self._decoder.feed(packet.data)
                if decoded is not None:
                    self._received(decoded)

    def _lost(self) -> None:
        """The Engine.IO session ended (closed by the server, or unknown to it)."""
        self.eio_sid = None
        for ns in list(self.connected):
            self.connected[ns] = False

    def _received(self, packet: sio.Packet) -> None:
        ns = packet.namespace
        ptype = packet.type
        if ptype == sio.PacketType.CONNECT:
            self.connected[ns] = True
            data = packet.data if isinstance(packet.data, dict) else {}
            self.sids[ns] = data.get("sid", "")
        elif ptype == sio.PacketType.CONNECT_ERROR:
            self.connected[ns] = False
            self.connect_errors[ns] = packet.data
        elif ptype == sio.PacketType.DISCONNECT:
            self.connected[ns] = False
        elif ptype in (sio.PacketType.EVENT, sio.PacketType.BINARY_EVENT):
            name, args = packet.data[0], list(packet.data[1:])
            value: Union[Any, List[Any]] = args
            if name in ("message", "json"):
                value = args[0] if args else None
            self.queue.append({"name": name, "args": value, "namespace": ns})
        elif ptype in (sio.PacketType.ACK, sio.PacketType.BINARY_ACK) and packet.id is not None:
            self.acks[packet.id] = list(packet.data)
