"""socket.io-client 2.x's browser bundle in headless Chromium against ``Server(allow_eio3=True)``.

A browser's XHR takes binary, so this is the real peer for Engine.IO v3's binary polling
framing (``application/octet-stream`` both ways), which Node's 2.x client never uses.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any, Iterator, List, Tuple

import pytest

import siothread
from siothread.server import Server
from tests.conftest import JS_DIR, require_node_modules, require_program
from tests.ops.ops_helpers import running

PAGE = """<!doctype html><meta charset="utf-8"><title>socket.io-client 2.x</title>
<script src="/socket.io-v2.js"></script>"""


#: content types of the Engine.IO requests and responses: ("request" | "response", type)
SEEN: List[Tuple[str, str]] = []


def recording(app: Any) -> Any:
    def wrapped(environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/socket.io/") and environ.get("CONTENT_TYPE"):
            SEEN.append(("request", environ["CONTENT_TYPE"]))

        def record(status: str, headers: list, *exc_info: Any) -> Any:
            if environ.get("PATH_INFO", "").startswith("/socket.io/"):
                SEEN.extend(("response", v) for k, v in headers if k.lower() == "content-type")
            return start_response(status, headers, *exc_info)

        return app(environ, record)

    return wrapped


@pytest.fixture
def v2_page(tmp_path: Any) -> Iterator[str]:
    js = require_node_modules("socket.io-client-v2")
    (tmp_path / "v2.html").write_text(PAGE, encoding="utf-8")
    sio = Server(allow_eio3=True)
    sio.on("echo", lambda sid, *args: args)
    static = {
        "/v2.html": str(tmp_path / "v2.html"),
        "/socket.io-v2.js": str(js / "node_modules" / "socket.io-client-v2" / "dist" / "socket.io.js"),
    }
    SEEN.clear()
    with running(sio, recording(siothread.WSGIApp(sio, static_files=static))) as url:
        yield url


@pytest.mark.node
def test_browser_v2_client_binary_polling_and_upgrade(v2_page: str) -> None:
    require_program("chromium", "the Debian package chromium (scripts/test.sh installs it as root)")
    out = subprocess.run(["node", str(JS_DIR / "browser_v2.js"), v2_page],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["viaPolling"] == {"bin": [1, 2, 255], "text": "text 😀", "binaryXhr": True}
    assert result["viaWebSocket"] == {"bin": [9, 8], "transport": "websocket"}
    # the binary event went up and its ack came back with the binary payload framing
    assert ("request", "application/octet-stream") in SEEN
    assert ("response", "application/octet-stream") in SEEN
