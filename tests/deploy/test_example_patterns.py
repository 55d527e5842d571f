"""python-socketio's example patterns, under every deployment, with the real socket.io-client.

deploy_app.py is served by each WSGI server in its own process (the processes
start in parallel and live for the session); tests/js/deploy_examples.js drives
echo, latency ping-pong, broadcast, join / send-to-room / leave, close-room, the
background task's timed event and a server-side disconnect, with default
transports (upgrading to WebSocket where the server can hand the connection
over) and with each transport alone.
"""
import json
import subprocess
import threading

import pytest
import requests

from deployments import JS_DIR, deploy_many, require_node_modules

#: server -> (env, expected async_mode, WebSocket available)
DEPLOYS = {
    "werkzeug": ({}, "threading", True),
    "flask-run": ({}, "threading", True),
    "waitress": ({}, "threading", False),
    "gunicorn-gthread": ({}, "threading", True),
    "uwsgi-threads": ({}, "threading", True),
    "uwsgi-gevent": ({}, "gevent_uwsgi", True),
    "cli": ({}, "gevent", True),
    "siothread": ({}, "gevent", True),  # unpatched: siothread.serve decides async_mode=None
    "gunicorn-gevent": ({}, "gevent", True),
    "gunicorn-geventwebsocket": ({}, "gevent", True),
}
TICK = {"DEPLOY_TICK": "0.5"}


@pytest.fixture(scope="module")
def deployments(deploy):
    """Every deployment, started in parallel (the deploy fixture stops them at the end)."""
    specs = [(server, {**env, **TICK}) for server, (env, _, _) in DEPLOYS.items()]
    return dict(zip(DEPLOYS, deploy_many(specs)))


def run_examples(url, **opts):
    proc = subprocess.run(["node", str(JS_DIR / "deploy_examples.js"), url, json.dumps(opts)],
                          capture_output=True, text=True, timeout=40, cwd=str(JS_DIR))
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("server", list(DEPLOYS))
def test_example_patterns_with_socket_io_client(deployments, server):
    require_node_modules()
    d = deployments[server]
    _, mode, websocket = DEPLOYS[server]
    assert d.mode == mode
    handshake = requests.get(d.url + "/socket.io/?EIO=4&transport=polling", timeout=5).text
    assert json.loads(handshake[1:])["upgrades"] == (["websocket"] if websocket else [])
    runs = [({"expectUpgrade": websocket}, "websocket" if websocket else "polling"),
            ({"transports": ["polling"]}, "polling")]
    if websocket:
        runs.append(({"transports": ["websocket"]}, "websocket"))
    for opts, transport in runs:
        r = run_examples(d.url, **opts)
        assert r.get("ok"), (opts, r, d.output()[-3000:])
        assert r["transport"] == r["transportAtEnd"] == transport
        assert r["hello"] == [1, 2, {"hello": "you", "auth": {"token": "my-token"}}]
        assert r["pongs"] == 5 and r["background"] and r["page"] == 200
        assert r["bAfterLeave"] is False and r["bAfterClose"] is False
        assert r["disconnectReason"] == "io server disconnect"


def _python_client_patterns(url):
    """The sync client examples' patterns: fiddle (auth, a three-argument event), latency
    (logger and engineio_logger, ping-pong with sleep), and both with SimpleClient."""
    import siothread as socketio

    # fiddle_client: Client with handlers and auth
    client = socketio.Client(reconnection=False)
    got = {}
    hello_seen = threading.Event()

    @client.event
    def connect():
        got["connected"] = True

    @client.event
    def disconnect(reason):
        got["reason"] = reason

    @client.event
    def hello(a, b, c):
        got["hello"] = (a, b, c)
        hello_seen.set()

    client.connect(url, auth={"token": "my-token"})
    assert hello_seen.wait(5)
    assert got["hello"] == (1, 2, {"hello": "you", "auth": {"token": "my-token"}}) and got["connected"]
    client.disconnect()
    assert got["reason"] == client.reason.CLIENT_DISCONNECT

    # latency_client: logger and engineio_logger, pong handler that sleeps and pings again
    latency = socketio.Client(logger=True, engineio_logger=True, reconnection=False)
    rounds = []
    finished = threading.Event()

    def send_ping():
        latency.emit("ping_from_client")

    @latency.event
    def connect():  # noqa: F811
        send_ping()

    @latency.event
    def pong_from_server():
        rounds.append(1)
        latency.sleep(0.01)
        if len(rounds) < 3:
            send_ping()
        else:
            finished.set()

    latency.connect(url)
    assert finished.wait(5)
    latency.disconnect()

    # simple-client fiddle and latency
    with socketio.SimpleClient() as sc:
        sc.connect(url, auth={"token": "my-token"})
        while True:
            event = sc.receive(timeout=5)
            if event[0] == "hello":
                break
        assert event == ["hello", 1, 2, {"hello": "you", "auth": {"token": "my-token"}}]
    with socketio.SimpleClient() as sc:
        sc.connect(url)
        for _ in range(3):
            sc.emit("ping_from_client")
            while sc.receive(timeout=5) != ["pong_from_server"]:
                pass


@pytest.mark.parametrize("server", list(DEPLOYS))
def test_client_and_simple_client_example_patterns(deployments, server):
    _python_client_patterns(deployments[server].url)
