"""Werkzeug's threaded dev server with the start/stop interface of gevent's servers.

Shared by the engine and Socket.IO contract tests that run a server in
``async_mode='threading'`` in this (monkey-patched) test process.
"""
from __future__ import annotations

import threading
from typing import Any, Optional


class WerkzeugServer:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.server_port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: Optional[float] = None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)
