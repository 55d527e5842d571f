"""shutdown() in threading mode: tasks end at their next sleep, clients are disconnected, it returns."""
import threading
import time

import siothread as socketio
from threaded_wsgi import WerkzeugServer


def test_shutdown_ends_tasks_and_sessions_in_threading_mode():
    sio = socketio.Server(async_mode="threading")
    server = WerkzeugServer(socketio.WSGIApp(sio))
    server.start()
    ticks = []
    ended = threading.Event()

    def ticker():
        try:
            while True:
                sio.sleep(0.05)
                ticks.append(1)
                sio.emit("tick")
        finally:
            ended.set()

    task = sio.start_background_task(ticker)
    client = socketio.Client(reconnection=False)
    gone = threading.Event()
    client.on("disconnect", lambda reason: gone.set())
    client.connect(f"http://127.0.0.1:{server.server_port}", transports=["websocket"])
    try:
        started = time.monotonic()
        while not ticks and time.monotonic() - started < 5:
            time.sleep(0.05)
        assert ticks
        sio.shutdown(timeout=2)
        assert ended.is_set() and task.dead
        assert gone.wait(5)
        assert not sio.eio.sessions
    finally:
        client.disconnect()
        server.stop(timeout=2)
