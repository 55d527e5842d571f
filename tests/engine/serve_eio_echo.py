"""Serve ``app_eio_echo.app`` on 127.0.0.1:<port> with plain gevent or siothread.serve.

usage: python serve_eio_echo.py <pywsgi-geventwebsocket|siothread> <port>
Stops on SIGTERM/SIGINT.
"""
import signal
import sys

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402

from app_eio_echo import app  # noqa: E402


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "siothread":
        import siothread

        siothread.serve(app, "127.0.0.1", port)
        return
    if mode == "pywsgi-geventwebsocket":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        server = pywsgi.WSGIServer(("127.0.0.1", port), app, handler_class=WebSocketHandler)
        gevent.signal_handler(signal.SIGTERM, server.stop)
        gevent.signal_handler(signal.SIGINT, server.stop)
        server.serve_forever()
        return
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
