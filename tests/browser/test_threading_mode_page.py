"""python-socketio's example page patterns in headless Chromium, in threading mode under Werkzeug.

deploy_app.py (tests/deploy) runs as ``python app.py`` would run an example with
``async_mode=None`` and no monkey-patching: Werkzeug's ``app.run(threaded=True)``
on OS threads. The page connects with auth, echoes, joins / sends to / leaves a
room, plays ping-pong, upgrades to WebSocket and asks the server to disconnect it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import JS_DIR, ROOT, free_port, require_node_modules, require_program


@pytest.fixture
def werkzeug_app():
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "deploy"), str(ROOT)]),
               DEPLOY_CLIENT_JS=str(JS_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"),
               DEPLOY_MAX_SECONDS="120")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "deploy" / "serve_with.py"), "werkzeug", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/mode", timeout=2) as r:
                    assert json.loads(r.read())["async_mode"] == "threading"
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.node
def test_example_page_in_chromium_under_werkzeug_threading_mode(werkzeug_app):
    require_node_modules()
    require_program("chromium", "the Debian package chromium (scripts/test.sh installs it as root)")
    out = subprocess.run(["node", str(JS_DIR / "browser_page.js"), werkzeug_app + "/browser"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    log = json.loads(out.stdout.strip().splitlines()[-1])["log"]
    # the upgrade may finish before or after the CONNECT answer: its line has no fixed place
    assert [line for line in log if not line.startswith("upgraded")][:2] == ["Connected", "hello 1 2 browser"]
    for line in ("echo from the page", "Entered room: page-room", "to the page's room", "Left room: page-room",
                 "pong", "upgraded to websocket"):
        assert line in log, log
    assert log[-1] == "disconnected: io server disconnect"
