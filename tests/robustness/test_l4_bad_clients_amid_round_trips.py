"""L4: 10% of clients send the codec regression inputs (row C5) while 90% run ack round trips.

One real Socket.IO server (``siothread.Server`` under :func:`siothread.make_server`);
every client is a raw WebSocket speaking Socket.IO v5 (a well-behaved client
library cannot send ``5999999999-[...]``). Good clients keep a window of emits
with ack ids in flight, each carrying its client and sequence number. Bad clients
cycle through every server-side C5 row of ``tests/unit/protocol/test_regressions.py``
(one connection per row: connect to ``/``, send the input, expect the connection
to be closed) for as long as the good clients run.

Expected: NO LOSS for the good clients (every ack received exactly once, in
order, carrying the client's own payload: ISOLATION); every bad connection is
closed and its socket leaves with reason "parse error" (counted); the server
still serves a new client afterwards; no Engine.IO session or Socket.IO socket is left.

CI runs 50 clients (5 bad) x 300 round trips; ``--run-slow`` runs 500 (50 bad)
x 500 (with ``SIOTHREAD_TEST_TIMEOUT=900``).
"""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple, Union

import gevent
import gevent.event
import gevent.lock
import pytest

import siothread
from robust_helpers import SioPeer, frame, read_until_eof
from siothread.server import Server

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 8  # acks in flight per good client
ACK_TIMEOUT = 10.0


def c5_inputs() -> List[Tuple[str, List[Union[str, bytes]]]]:
    """The server-side C5 rows that can be sent over the wire, from the codec's regression list."""
    spec = importlib.util.spec_from_file_location(
        "c5_regressions", ROOT / "tests" / "unit" / "protocol" / "test_regressions.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    rows = []
    for name, row in module.ROWS.items():
        if row.role == "server" and all(isinstance(m, (str, bytes)) for m in row.messages):
            rows.append((name, list(row.messages)))
    return rows


class Recorder:
    def __init__(self) -> None:
        self.connects: List[str] = []
        self.disconnects: List[Tuple[str, str]] = []


@pytest.fixture
def sio_server() -> Iterator[Tuple[Server, int, Recorder]]:
    sio = Server()
    rec = Recorder()

    @sio.on("connect")
    def on_connect(sid: str, environ: dict, auth: Any) -> None:
        rec.connects.append(sid)

    @sio.on("disconnect")
    def on_disconnect(sid: str, reason: str) -> None:
        rec.disconnects.append((sid, reason))

    @sio.on("echo")
    def echo(sid: str, *data: Any) -> Any:
        return data

    wsgi_server = siothread.make_server(siothread.WSGIApp(sio), "127.0.0.1", 0, backlog=1024)
    wsgi_server.start()
    try:
        yield sio, wsgi_server.server_port, rec
    finally:
        sio.shutdown(timeout=2)
        wsgi_server.stop(timeout=2)


def good_client(port: int, k: int, round_trips: int, acks: List[Tuple[int, Any]]) -> None:
    peer = SioPeer(port, timeout=ACK_TIMEOUT)  # a lost ack ends the reader after ACK_TIMEOUT
    window = gevent.lock.Semaphore(WINDOW)
    stopped = gevent.event.Event()

    def read() -> None:
        try:
            while len(acks) < round_trips:
                packet = peer.recv()
                if packet is None:
                    return
                assert isinstance(packet, str) and packet.startswith("3"), packet
                body = packet[1:]
                digits = len(body) - len(body.lstrip("0123456789"))
                acks.append((int(body[:digits]), json.loads(body[digits:])))
                window.release()
        finally:
            stopped.set()
            window.release()

    reader = gevent.spawn(read)
    try:
        for i in range(1, round_trips + 1):
            window.acquire()
            if stopped.is_set():
                break
            peer.send(f'2{i}["echo",{{"c":{k},"i":{i}}}]')
        reader.join()
        reader.get()  # re-raise a malformed ack
    finally:
        reader.kill()
        peer.close()


def bad_connection(port: int, messages: List[Union[str, bytes]]) -> Tuple[List[Any], Any]:
    """One connection that sends one C5 input; returns (packets seen, close code) once the server closed it."""
    peer = SioPeer(port)
    for message in messages:
        if isinstance(message, bytes):
            peer.send_binary(message)
        else:
            peer.send(message)
    seen = []
    peer.sock.settimeout(10)
    while True:
        packet = peer.recv()
        if packet is None:
            break
        seen.append(packet)
    if peer.close_code is not None:
        try:
            peer.sock.sendall(frame(8, b"\x03\xe8"))
        except OSError:
            pass
    read_until_eof(peer.sock, limit=10)  # raises if the server left the connection open
    peer.sock.close()
    return seen, peer.close_code


def mixed_load(sio: Server, port: int, rec: Recorder, clients: int, bad: int, round_trips: int) -> None:
    rows = c5_inputs()
    assert len(rows) >= 60, "the C5 list shrank: check the loader"
    good = clients - bad
    acks: Dict[int, List[Tuple[int, Any]]] = {k: [] for k in range(good)}
    closed: List[Tuple[str, Any, List[Any]]] = []
    done = gevent.event.Event()

    def bad_client(b: int) -> None:
        mine = rows[b::bad]
        passes = 0
        while passes == 0 or not done.is_set():
            for name, messages in mine:
                seen, code = bad_connection(port, messages)
                closed.append((name, code, seen))
                gevent.sleep(0.005)
            passes += 1

    t0 = time.monotonic()
    bad_tasks = [gevent.spawn(bad_client, b) for b in range(bad)]
    good_tasks = [gevent.spawn(good_client, port, k, round_trips, acks[k]) for k in range(good)]
    try:
        gevent.joinall(good_tasks + bad_tasks, raise_error=True, count=good)
        gevent.joinall(good_tasks, raise_error=True)
        done.set()
        gevent.joinall(bad_tasks, raise_error=True)
    finally:
        gevent.killall(good_tasks + bad_tasks)
    elapsed = time.monotonic() - t0

    # NO LOSS and ISOLATION: each ack once, in order, with the client's own payload
    for k in range(good):
        assert acks[k] == [(i, [{"c": k, "i": i}]) for i in range(1, round_trips + 1)], f"client {k}"
    # every bad connection was closed, none got an answer
    assert {name for name, _, _ in closed} == {name for name, _ in rows}
    assert all(seen == [] for _, _, seen in closed), [(n, s) for n, _, s in closed if s]
    assert all(code is not None for _, code, _ in closed), "a bad connection ended without a close frame"
    codes = {code for _, code, _ in closed}
    print(f"L4: {good} clients x {round_trips} acked round trips amid {len(closed)} rejected connections "
          f"({len(rows)} C5 rows) in {elapsed:.1f} s; close codes {sorted(codes, key=str)}")
    parse_errors = [sid for sid, why in rec.disconnects if why == sio.reason.PARSE_ERROR]
    assert len(parse_errors) == len(set(parse_errors)) == len(closed)

    # server up: a new client completes a round trip
    fresh = SioPeer(port)
    fresh.send('27["echo","still here"]')
    assert fresh.recv() == '37["still here"]'
    fresh.close()

    # no leak: every Engine.IO session and Socket.IO socket is gone once the clients left
    deadline = time.monotonic() + 10
    while sio.eio.sessions or sio._clients or sio._sockets:
        assert time.monotonic() < deadline, (len(sio.eio.sessions), len(sio._clients), len(sio._sockets))
        gevent.sleep(0.05)
    assert len(rec.connects) == good + len(closed) + 1
    assert len(rec.disconnects) == len(rec.connects)


def test_l4_c5_inputs_from_5_of_50_clients_amid_ack_round_trips(sio_server):
    sio, port, rec = sio_server
    mixed_load(sio, port, rec, clients=50, bad=5, round_trips=300)


@pytest.mark.slow
def test_l4_c5_inputs_from_50_of_500_clients_amid_ack_round_trips(sio_server):
    sio, port, rec = sio_server
    mixed_load(sio, port, rec, clients=500, bad=50, round_trips=500)
