"""Session affinity among the worker processes of one host, without a sticky load balancer.

With several worker processes sharing one listening socket, any request can reach
any worker, but an Engine.IO session lives in the worker that made it: a polling
client's next request, or its WebSocket upgrade, may land elsewhere. Here:

- every worker holds a *slot* (0..4095): the first free Linux abstract Unix socket
  name ``\\0siothread-<group>-<slot>``, where ``<group>`` is the master's pid. The
  kernel frees the name when the process dies, so a dead worker's slot is free at
  once and a replacement takes it (or any other free one);
- a worker's sids start with its slot in two base64url characters, followed by
  siothread's usual 120 random bits (:func:`sid_prefix`, :func:`sid_owner`): no
  lookup table, nothing shared;
- a worker that receives a request for a sid it does not hold passes the accepted
  TCP connection with ``SCM_RIGHTS`` to the owner, together with the bytes it
  already read (the request head and what followed), as one record on a
  ``SOCK_SEQPACKET`` channel it keeps open to that worker
  (``\0siothread-<group>-<slot>.fd``): one ``sendmsg`` per hand-off. The owner
  serves that request and the rest of the connection itself: no proxy hop, no
  copy per message afterwards. A channel the owner closed (it died or was
  replaced) is noticed before the connection is taken: then the request is
  answered here;
- a TLS connection cannot change process (its TLS state lives in this one): the
  receiving worker relays its decrypted bytes to the owner over the Unix
  connection instead (one extra copy each way, see ``docs/scaling.md``);
- a sid whose owner is this worker, or no live worker, is answered by the engine
  itself: ``400 {"code":1,"message":"Session ID unknown"}``. A connect to a dead
  owner's name fails at once (``ECONNREFUSED``), so nobody waits for it.

Bounds: a hand-off record is at most :data:`MAX_MESSAGE` bytes; a sender waits at
most :data:`HANDOFF_TIMEOUT` for room on a channel (the owner adopts connections
as its connection pool allows); the first message of a TLS relay must arrive
within :data:`HANDOFF_TIMEOUT`, and at most :data:`MAX_PENDING` are read at a
time; only processes of the same user may connect (``SO_PEERCRED``).
"""
from __future__ import annotations

import array
import json
import os
import socket as _stdsocket
import struct
import sys
from typing import Any, Callable, Dict, Optional, Set, Tuple

import gevent
import gevent.pool
from gevent import socket

__all__ = ["Router", "sid_prefix", "sid_owner", "accept_same_user", "MAX_SLOTS"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
#: the most worker slots of one group (two base64url characters)
MAX_SLOTS = 64 * 64
#: a sid's length: the slot prefix and ``secrets.token_urlsafe(15)``
SID_LENGTH = 22

#: how long connecting to an owner, sending, or receiving one hand-off may take
HANDOFF_TIMEOUT = 5.0
#: hand-off messages read at the same time; the others wait in the socket's backlog
MAX_PENDING = 128
#: the largest hand-off message (meta and bytes already read: a request head and one read)
MAX_META = 1024
MAX_MESSAGE = 65536 + 4 + 65536 + MAX_META

_MAGIC = b"SIOh"
_HEADER = struct.Struct("!4sBHI")  # magic, kind, meta length, data length
_KIND_FD = 1  # the connection's descriptor travels with the message
_KIND_RELAY = 2  # the Unix connection itself carries the client's bytes from now on


def sid_prefix(slot: int) -> str:
    """The two characters that start every sid made by the worker in ``slot``."""
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"slot out of range: {slot}")
    return _ALPHABET[slot >> 6] + _ALPHABET[slot & 63]


def sid_owner(sid: str) -> Optional[int]:
    """The slot of the worker that made ``sid``; None when ``sid`` is not one of ours."""
    if len(sid) != SID_LENGTH:
        return None
    hi = _INDEX.get(sid[0])
    lo = _INDEX.get(sid[1])
    if hi is None or lo is None:
        return None
    return hi * 64 + lo


def _address(group: str, slot: int) -> str:
    return f"\0siothread-{group}-{slot}"


def _fd_address(group: str, slot: int) -> str:
    return f"\0siothread-{group}-{slot}.fd"


class Router:
    """This worker's end of the hand-off: its slot, its Unix listener, and passing connections.

    ``server`` is the :class:`siothread.serving.Server` that serves adopted
    connections; set ``server.handoff = router`` so that its handlers offer
    ``environ["siothread.handoff"]`` and put :attr:`prefix` in new sids
    (``environ["siothread.sid_prefix"]``). :meth:`start` claims the slot.
    """

    def __init__(self, group: str, server: Any) -> None:
        if not sys.platform.startswith("linux"):
            raise RuntimeError("several worker processes need Linux (abstract Unix sockets and SCM_RIGHTS)")
        self.group = str(group)
        self.server = server
        self.slot = -1
        self.prefix = ""
        self._listener: Any = None  # the slot: TLS relays arrive here
        self._fd_listener: Any = None  # descriptors arrive here, one record each
        #: owner slot -> the connection descriptors are passed on (kept open)
        self._channels: Dict[int, Any] = {}
        self._greenlets: Set[Any] = set()
        self._pending = gevent.pool.Pool(MAX_PENDING)
        #: counters, for tests and benchmarks
        self.stats = {"sent": 0, "relayed": 0, "received": 0, "refused": 0}

    # -- the slot ----------------------------------------------------------------------
    def start(self) -> int:
        """Claim the first free slot, listen on it, and name this worker in new sids."""
        for slot in range(MAX_SLOTS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(_address(self.group, slot))
            except OSError:
                sock.close()
                continue
            sock.listen(MAX_PENDING)
            self._listener = sock
            self.slot = slot
            self.prefix = sid_prefix(slot)
            break
        else:
            raise RuntimeError(f"no free worker slot among {MAX_SLOTS}")
        fd_listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fd_listener.bind(_fd_address(self.group, self.slot))
        fd_listener.listen(MAX_PENDING)
        self._fd_listener = fd_listener
        self.server.environ["siothread.sid_prefix"] = self.prefix
        self.server.handoff = self
        self._spawn(accept_same_user, lambda: self._listener,
                    lambda conn: self._pending.spawn(self._receive_relay, conn))
        self._spawn(accept_same_user, lambda: self._fd_listener, lambda conn: self._spawn(self._fd_reader, conn))
        return self.slot

    def close(self) -> None:
        """Stop receiving hand-offs (connections already adopted go on)."""
        listeners, self._listener, self._fd_listener = (self._listener, self._fd_listener), None, None
        for listener in listeners:
            if listener is not None:
                listener.close()
        for channel in self._channels.values():
            _close(channel)
        self._channels.clear()
        gevent.killall(list(self._greenlets), block=True, timeout=1.0)
        self._pending.kill(block=True, timeout=1.0)

    def _spawn(self, fn: Any, *args: Any) -> Any:
        g = gevent.spawn(fn, *args)
        self._greenlets.add(g)
        g.link(self._greenlets.discard)
        return g

    # -- sending -----------------------------------------------------------------------
    def connect(self, sid: str) -> Optional[int]:
        """The slot of the live worker that owns ``sid``, or None (ours, unknown, dead)."""
        owner = sid_owner(sid)
        if owner is None or owner == self.slot:
            return None
        return self.connect_slot(owner)

    def connect_slot(self, slot: int) -> Optional[int]:
        """``slot`` when a worker lives there (a channel to it is open), else None."""
        return slot if self._channel(slot) is not None else None

    def _channel(self, slot: int) -> Optional[Any]:
        channel = self._channels.get(slot)
        if channel is not None:
            try:  # the owner never writes: readable means it closed (it died or restarted)
                channel._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return channel
            except OSError:
                pass
            self._drop_channel(slot, channel)
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        channel.settimeout(HANDOFF_TIMEOUT)
        try:
            channel.connect(_fd_address(self.group, slot))
        except OSError:
            channel.close()
            self.stats["refused"] += 1
            return None
        self._channels[slot] = channel
        return channel

    def _drop_channel(self, slot: int, channel: Any) -> None:
        if self._channels.get(slot) is channel:
            del self._channels[slot]
        _close(channel)

    def transfer(self, owner: int, sock: Any, data: bytes, address: Any, https: bool = False) -> None:
        """Pass ``sock`` (this process no longer owns it) and ``data`` to the worker in slot ``owner``.

        A plain socket travels as a descriptor (one record on the channel to the owner) and is
        closed here at once; a TLS socket stays, and its bytes are relayed over a Unix
        connection of its own until either side closes (this call returns then).
        """
        tls = hasattr(sock, "getpeercert")
        addr = list(address) if isinstance(address, tuple) else None
        meta = json.dumps({"addr": addr, "https": bool(https or tls)}).encode()
        message = _HEADER.pack(_MAGIC, _KIND_RELAY if tls else _KIND_FD, len(meta), len(data)) + meta + data
        if tls:
            relay = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            relay.settimeout(HANDOFF_TIMEOUT)
            try:
                relay.connect(_address(self.group, owner))
                relay.sendall(message)
            except OSError:
                _close(relay)
                _close(sock)
                return
            self.stats["relayed"] += 1
            _relay(sock, relay)
            return
        channel = self._channels.get(owner) or self._channel(owner)
        try:
            if channel is not None:
                channel.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))])
                self.stats["sent"] += 1
        except OSError:  # the owner died meanwhile, or stopped reading for HANDOFF_TIMEOUT
            self._drop_channel(owner, channel)
        finally:
            _close(sock)

    # -- receiving ---------------------------------------------------------------------
    def _fd_reader(self, conn: Any) -> None:
        """Read another worker's channel: one record per connection passed on."""
        try:
            while True:
                record, ancdata, flags, _ = conn.recvmsg(_HEADER.size + MAX_MESSAGE,
                                                         _stdsocket.CMSG_SPACE(struct.calcsize("i")))
                fd = _take_fd(ancdata)
                if not record:
                    if fd >= 0:
                        os.close(fd)
                    return
                try:
                    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or fd < 0:
                        raise ValueError("a truncated record, or one without a descriptor")
                    kind, meta_len, data_len = _check_header(record[:_HEADER.size])
                    if kind != _KIND_FD or len(record) != _HEADER.size + meta_len + data_len:
                        raise ValueError("invalid hand-off record")
                    body = record[_HEADER.size:]
                    meta = _meta(body[:meta_len])
                    client = socket.socket(fileno=fd)
                except (ValueError, OSError):
                    if fd >= 0:
                        os.close(fd)
                    continue
                client.setblocking(False)
                self.stats["received"] += 1
                self._adopt_later(client, body[meta_len:], meta)
        except OSError:
            pass
        finally:
            _close(conn)

    def _receive_relay(self, conn: Any) -> None:
        """A TLS connection relayed by another worker: its first message, then its bytes."""
        try:
            with gevent.Timeout(HANDOFF_TIMEOUT):
                kind, meta_len, data_len = _check_header(_recv_exactly(conn, _HEADER.size))
                if kind != _KIND_RELAY:
                    raise ValueError("descriptors travel on the channel, not here")
                body = _recv_exactly(conn, meta_len + data_len)
                meta = _meta(body[:meta_len])
        except (OSError, ValueError, gevent.Timeout):
            _close(conn)
            return
        self.stats["received"] += 1
        self._adopt_later(conn, body[meta_len:], meta)

    def _adopt_later(self, client: Any, data: bytes, meta: Dict[str, Any]) -> None:
        address = tuple(meta["addr"]) if isinstance(meta.get("addr"), list) else ""
        spawn = getattr(self.server, "_spawn", None) or gevent.spawn
        spawn(self._adopt, client, data, address, bool(meta.get("https")))

    def _adopt(self, sock: Any, data: bytes, address: Any, https: bool) -> None:
        """Serve a connection another worker passed on, as if it had been accepted here."""
        from .serving import Handler

        server = self.server
        handler = Handler(server, sock, address)
        handler._buf = data
        if https:
            env: Any = handler._env
            env["wsgi.url_scheme"] = "https"
            env["HTTPS"] = "on"
        try:
            handler.run()
        finally:
            # taken over by a WebSocket session: it closes the socket, not us
            server._detached.discard(sock)


def accept_same_user(get_listener: Callable[[], Any], spawn: Callable[[Any], Any]) -> None:
    """Accept connections on a Unix listener and ``spawn(conn)`` each one that comes from a
    process of this user (``SO_PEERCRED``), until the listener is closed (``get_listener()``
    then returns None)."""
    listener = get_listener()
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            if get_listener() is None:
                return
            gevent.sleep(0.05)  # out of descriptors, say: back off and go on
            continue
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            allowed = struct.unpack("3i", creds)[1] == os.geteuid()
        except OSError:
            allowed = False
        if allowed:
            spawn(conn)
        else:
            _close(conn)


def _take_fd(ancdata: Any) -> int:
    """The descriptor passed with a message (-1 for none); any extra one is closed."""
    fd = -1
    for level, ctype, payload in ancdata:
        if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            for extra in fds:
                if fd < 0:
                    fd = extra
                else:
                    os.close(extra)
    return fd


def _check_header(head: bytes) -> Tuple[int, int, int]:
    """(kind, meta length, data length) of a hand-off header; ValueError when it is not one."""
    if len(head) != _HEADER.size:
        raise ValueError("short hand-off header")
    magic, kind, meta_len, data_len = _HEADER.unpack(head)
    if magic != _MAGIC or kind not in (_KIND_FD, _KIND_RELAY) or meta_len > MAX_META \
            or meta_len + data_len > MAX_MESSAGE:
        raise ValueError("invalid hand-off header")
    return kind, meta_len, data_len


def _meta(raw: bytes) -> Dict[str, Any]:
    meta = json.loads(raw)
    if not isinstance(meta, dict):
        raise ValueError("invalid hand-off meta")
    return meta


def _recv_exactly(conn: Any, n: int) -> bytes:
    parts = []
    while n > 0:
        data = conn.recv(min(n, 65536))
        if not data:
            raise ValueError("short hand-off message")
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def _relay(client: Any, channel: Any) -> None:
    """Copy bytes both ways between a TLS ``client`` and the owner's ``channel`` until one ends."""
    channel.settimeout(None)

    def upstream() -> None:
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                channel.sendall(data)
            channel.shutdown(socket.SHUT_WR)  # the owner finishes what it is answering
        except OSError:
            _close(channel)

    up = gevent.spawn(upstream)
    try:
        while True:
            data = channel.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        up.kill(block=True, timeout=1.0)
        _close(channel)
        _close(client)


def _close(sock: Any) -> None:
    try:
        sock.close()
    except OSError:
        pass
