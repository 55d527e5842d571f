"""X4: a server restart with reconnecting clients (no state carried over).

A Socket.IO server process (``sio_server.py`` under :func:`siothread.serve`)
has clients connected over WebSocket and over long-polling (see ``POLLING``); each joins a room
and stores session data. The process gets SIGTERM and must exit by itself
(every client told "server shutting down"); a new process is started on the
same port. Every client reconnects on its own, gets a new sid, and the new
process knows nothing of the old room or session data. Run with
python-socketio's client and with ``siothread.Client``.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import gevent
import pytest
import socketio

import siothread
from tests.conftest import free_port
from server_process import ServerProcess

SCRIPT = Path(__file__).resolve().parent / "sio_server.py"
CLIENTS = 20
SHUTDOWN_TIMEOUT = 2.0
OPTIONS = {"ping_interval": 1, "ping_timeout": 2}  # client threads end within a ping period of a close
# Half of the clients start on long-polling. siothread.Client stays on it; python-engineio's client
# treats the CLOSE packet that ends a parked GET at shutdown as final and never reconnects (a Node
# server sends the same packet; socket.io-client reconnects), so its polling clients upgrade first.
POLLING = {"siothread": ["polling"], "python-socketio": ["polling", "websocket"]}


@pytest.fixture
def sio_process() -> Iterator:
    # Twenty clients reconnecting at once resolve their URL at once: gevent's resolver threadpool
    # grows workers that never retire in this test run. Shrink it back afterwards (not a leak).
    resolver_pool = gevent.get_hub().threadpool
    pool_size = resolver_pool.size
    started = []

    def start(port: int) -> ServerProcess:
        p = ServerProcess(port, OPTIONS, ["--shutdown-timeout", str(SHUTDOWN_TIMEOUT)], script=SCRIPT)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
    resolver_pool.size = pool_size


def make_client(kind: str) -> Any:
    options: Dict[str, Any] = dict(reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.3,
                                   randomization_factor=0, handle_sigint=False)
    return socketio.Client(**options) if kind == "python-socketio" else siothread.Client(**options)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.05)


@pytest.mark.parametrize("kind", [
    # python-engineio's client leaves the socket of a WebSocket the server closed for the garbage
    # collector (a ResourceWarning from the library, not from the server under test)
    pytest.param("python-socketio",
                 marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")),
    "siothread",
])
def test_x4_restart_gives_every_reconnecting_client_a_new_sid_and_no_old_state(sio_process, kind):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = sio_process(port)
    clients: List[Any] = []
    connects: List[int] = [0] * CLIENTS
    lock = threading.Lock()

    def counter(k: int) -> Any:
        def on_connect(*_: Any) -> None:
            with lock:
                connects[k] += 1
        return on_connect

    try:
        for k in range(CLIENTS):
            c = make_client(kind)
            c.on("connect", counter(k))
            transports = ["websocket"] if k % 2 else POLLING[kind]
            c.connect(url, transports=transports, wait_timeout=10)
            clients.append(c)
        old: List[Dict[str, Any]] = []
        for k, c in enumerate(clients):
            assert c.call("join", f"room-{k}", timeout=5)
            assert c.call("remember", {"secret": k}, timeout=5) is True
            me = c.call("whoami", timeout=5)
            assert me["rooms"] == sorted([me["sid"], f"room-{k}"]) and me["session"] == {"secret": k}
            assert me["pid"] == first.proc.pid
            old.append(me)
        assert len({me["sid"] for me in old}) == CLIENTS

        # restart: the first process drains and exits by itself, a new one takes the port
        first.signal()
        code = first.wait_exit(SHUTDOWN_TIMEOUT + 5)
        assert code == 0, f"the first server did not exit by itself after SIGTERM: {code}"
        gone = first.exit_stats()
        assert gone["reasons"] == {"server shutting down": CLIENTS} and gone["sockets"] == 0
        second = sio_process(port)

        wait_until(lambda: all(n == 2 for n in connects) and all(c.connected for c in clients), 20,
                   "every client to reconnect")
        new = [c.call("whoami", timeout=5) for c in clients]
        for k, (before, after) in enumerate(zip(old, new)):
            assert after["pid"] == second.proc.pid
            assert after["sid"] != before["sid"]
            assert after["rooms"] == [after["sid"]], f"client {k} is still in {after['rooms']}"
            assert after["session"] == {}, f"client {k} kept session data {after['session']}"
        assert not {me["sid"] for me in old} & {me["sid"] for me in new}
        st = second.stats()
        assert st["sockets"] == CLIENTS and st["counts"]["connects"] == CLIENTS  # one reconnection each
        assert connects == [2] * CLIENTS
    finally:
        for c in clients:
            c.disconnect()
        gevent.joinall([gevent.spawn(c.wait) for c in clients])  # python-socketio's wait() sleeps 1 s
    second.wait_stats(lambda st: st["sockets"] == 0 and st["sessions"] == 0)
    second.signal()
    assert second.wait_exit(SHUTDOWN_TIMEOUT + 5) == 0
