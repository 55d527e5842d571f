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

import pytest
import requests

from conftest import JS_DIR, deploy_many, require_node_modules

#: server -> (env, expected async_mode, WebSocket available)
DEPLOYS = {
    "werkzeug": ({}, "threading", True),
    "flask-run": ({}, "threading", True),
    "waitress": ({}, "threading", False),
    "gunicorn-gthread": ({}, "threading", True),
    "uwsgi-threads": ({}, "threading", True),
    "uwsgi-gevent": ({}, "gevent_uwsgi", True),
    "cli": ({}, "gevent", True),
    "siothread": ({"DEPLOY_PATCH": "1"}, "gevent", True),
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
