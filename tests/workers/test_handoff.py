"""The hand-off between two workers, both in this process: sid encoding, passing a connection
with SCM_RIGHTS, relaying a TLS connection, and refusing malformed or foreign hand-offs."""
import itertools
import json
import os
import ssl
import struct
from pathlib import Path

import gevent
import pytest
from gevent import socket

import siothread
from siothread import handoff
from siothread.handoff import Router, sid_owner, sid_prefix
from siothread.serving import make_server

CERTS = Path(__file__).resolve().parent.parent / "client" / "certs"
_groups = itertools.count()


def test_sid_prefix_round_trip_and_foreign_sids():
    for slot in (0, 1, 63, 64, 4095):
        sid = sid_prefix(slot) + "x" * 20
        assert sid_owner(sid) == slot
    for sid in ("", "AA", "A" * 21, "A" * 23, "!A" + "x" * 20, "A\u00e9" + "x" * 20):
        assert sid_owner(sid) is None
    with pytest.raises(ValueError):
        sid_prefix(4096)


class Worker:
    """One in-process 'worker': a Socket.IO server, siothread's HTTP server, a router."""

    def __init__(self, group: str, **ssl_args) -> None:
        self.sio = siothread.Server()
        self.sio.on("echo", lambda sid, data: data)
        self.server = make_server(siothread.WSGIApp(self.sio), "127.0.0.1", 0, **ssl_args)
        self.router = Router(group, self.server)
        self.router.start()
        self.server.start()
        self.port = self.server.server_port

    def close(self) -> None:
        self.sio.shutdown(1.0)
        self.router.close()
        self.server.stop(timeout=1.0)


@pytest.fixture
def pair():
    group = f"test{os.getpid()}-{next(_groups)}"
    plain = Worker(group)
    tls = Worker(group, certfile=str(CERTS / "cert.pem"), keyfile=str(CERTS / "key.pem"))
    yield plain, tls
    plain.close()
    tls.close()


def request(sock, target: str, method: str = "GET", body: bytes = b"") -> tuple:
    """One keep-alive request on ``sock``: (status, body)."""
    sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split(b" ")[1]), rest


def connect(port: int, tls: bool = False):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    return sock


def session(worker: Worker) -> str:
    with connect(worker.port, worker.server.ssl_enabled) as s:
        status, body = request(s, "/socket.io/?EIO=4&transport=polling")
    sid = json.loads(body[1:])["sid"]
    assert sid_owner(sid) == worker.router.slot
    return sid  # type: ignore[no-any-return]


@pytest.mark.parametrize("via_tls", [False, True], ids=["fd", "tls-relay"])
def test_the_owner_serves_requests_that_reach_another_worker(pair, via_tls):
    plain, tls = pair
    # TLS to the TLS worker for a session of the plain one: relayed; plain to the plain worker
    # for a session of the TLS one: the descriptor travels
    receiver, owner = (tls, plain) if via_tls else (plain, tls)
    sid = session(owner)
    q = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    with connect(receiver.port, via_tls) as s:
        assert request(s, q, "POST", b'40') == (200, b"ok")
        status, body = request(s, q)  # the same connection, now served by the owner
        assert status == 200 and body.startswith(b'40{"sid":')
        assert request(s, q, "POST", b'42["echo","hi"]') == (200, b"ok")
    key = "relayed" if via_tls else "sent"
    assert receiver.router.stats[key] == 1  # once: the connection stayed with the owner
    assert owner.router.stats["received"] == 1


def test_a_session_nobody_owns_is_400_at_once(pair):
    plain, _ = pair
    for sid in (sid_prefix(plain.router.slot) + "z" * 20, sid_prefix(4000) + "z" * 20, "short"):
        with connect(plain.port) as s:
            with gevent.Timeout(2):
                status, body = request(s, f"/socket.io/?EIO=4&transport=polling&sid={sid}")
        assert (status, json.loads(body)) == (400, {"code": 1, "message": "Session ID unknown"})


def closed_by_peer(sock) -> bool:
    """The receiver closed the Unix connection (a reset when it left our bytes unread)."""
    sock.settimeout(3)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def _address(router: Router) -> str:
    return f"\0siothread-{router.group}-{router.slot}"


@pytest.mark.parametrize("message", [
    b"",  # connects and closes
    b"junk" * 10,  # no header
    struct.pack("!4sBHI", b"SIOh", 1, 10, 5) + b"x" * 15,  # an fd hand-off without a descriptor
    struct.pack("!4sBHI", b"SIOh", 2, 10, 1 << 30),  # a length over the cap
    struct.pack("!4sBHI", b"SIOh", 9, 2, 0) + b"{}",  # an unknown kind
    struct.pack("!4sBHI", b"SIOh", 2, 4, 0) + b"[1]x",  # meta that is not an object
], ids=["empty", "junk", "no-fd", "oversize", "kind", "meta"])
def test_malformed_handoffs_are_dropped(pair, message):
    plain, _ = pair
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(_address(plain.router))
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        assert closed_by_peer(s)
    gevent.sleep(0.05)
    assert plain.router.stats["received"] == 0


def _record(kind: int, meta: bytes, data: bytes) -> bytes:
    return struct.pack("!4sBHI", b"SIOh", kind, len(meta), len(data)) + meta + data


@pytest.mark.parametrize("record,with_fd", [
    (_record(1, b'{"addr":null}', b"GET / HTTP/1.1\r\n\r\n"), False),  # no descriptor
    (_record(2, b"{}", b""), True),  # a relay on the descriptor channel
    (_record(1, b"[1]", b""), True),  # meta that is not an object
    (_record(1, b"{}", b"")[:-1] + b"x" * 3, True),  # lengths that do not add up
    (b"junk", True),
], ids=["no-fd", "relay-kind", "meta", "lengths", "junk"])
def test_malformed_records_on_the_channel_are_dropped(pair, record, with_fd):
    plain, _ = pair
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s, open(os.devnull, "rb") as passed:
        s.connect(_address(plain.router) + ".fd")
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", passed.fileno()))] if with_fd else []
        s.sendmsg([record], fds)
        gevent.sleep(0.1)
        assert plain.router.stats["received"] == 0
        # the channel still works: a real hand-off over it is served
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            client = socket.create_connection(listener.getsockname())
            conn, _ = listener.accept()
            request = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
            s.sendmsg([_record(1, b'{"addr":["127.0.0.1",1]}', request)],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", conn.fileno()))])
            conn.close()
            with client:
                client.settimeout(5)
                assert client.recv(12) == b"HTTP/1.1 200"
    assert plain.router.stats["received"] == 1


def test_a_stalled_handoff_is_dropped_after_its_deadline(pair, monkeypatch):
    plain, _ = pair
    monkeypatch.setattr(handoff, "HANDOFF_TIMEOUT", 0.3)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(_address(plain.router))
        s.sendall(struct.pack("!4sBHI", b"SIOh", 2, 2, 100) + b"{}")  # 100 bytes announced, none sent
        assert closed_by_peer(s)
    assert plain.router.stats["received"] == 0
