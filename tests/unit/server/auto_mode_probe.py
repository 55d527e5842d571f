"""Run in a fresh process WITHOUT gevent's monkey-patching (test_auto_mode.py): how async_mode=None resolves.

Prints one JSON object: scenario name -> what it observed.
"""
import json
import logging
import threading

import gevent

import siothread
from siothread.engine._runtime import RUNTIME
from siothread.engine._threading_runtime import THREADING_RUNTIME
from siothread.engine.modes import serving_on_gevent

HANDSHAKE = {"REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=polling"}


def handshake(app):
    status = []
    body = b"".join(app(dict(HANDSHAKE), lambda s, h, e=None: status.append(s)))
    return status[0], body[:1]


def state(sio, **extra):
    out = {"async_mode": sio.async_mode, "resolved": sio.eio.auto_runtime.mode,
           "by": sio.eio.auto_runtime.resolved_by,
           "runtime": {id(RUNTIME): "gevent", id(THREADING_RUNTIME): "threading"}.get(id(sio.runtime), "auto"),
           "eio_runtime_is_sio_runtime": sio.eio.runtime is sio.runtime,
           "emit_guard_on_instance": "emit" in vars(sio)}
    out.update(extra)
    return out


def undecided():
    sio = siothread.Server()
    return {"auto": sio.eio.auto_runtime is not None, "async_mode": sio.async_mode,
            "resolved": sio.eio.auto_runtime.mode, "in_greenlet": gevent.spawn(lambda: sio.async_mode).get()}


def explicit_and_greenlet():
    made = gevent.spawn(siothread.Server).get()
    out = {}
    for mode in ("gevent", "threading", "gevent_uwsgi"):
        sio = siothread.Server(async_mode=mode)
        out[mode] = [sio.eio.auto_runtime is None, sio.async_mode]
    out["built_in_greenlet"] = [made.eio.auto_runtime is None, made.async_mode]
    return out


def first_request_from_thread():
    sio = siothread.Server()
    app = siothread.WSGIApp(sio)
    result = []
    t = threading.Thread(target=lambda: result.append(handshake(app)), name="wsgi-thread")
    t.start()
    t.join(10)
    return state(sio, status=result[0][0], open=result[0][1].decode())


def first_request_from_greenlet():
    sio = siothread.Server()
    app = siothread.WSGIApp(sio)
    status, first = gevent.spawn(handshake, app).get(timeout=10)
    return state(sio, status=status, open=first.decode())


def background_task_first():
    sio = siothread.Server()
    ran = []
    task = sio.start_background_task(lambda: ran.append(threading.current_thread().name))
    task.join(5)
    in_greenlet = siothread.Server()
    gevent.spawn(in_greenlet.sleep, 0).join(5)
    return {"main_thread": state(sio, ran=bool(ran)), "greenlet": state(in_greenlet)}


def emit_first():
    sio = siothread.Server()
    sio.emit("nobody-listens")
    return state(sio)


def serving_finds_the_server():
    from flask import Flask

    plain = siothread.Server()
    serving_on_gevent(siothread.WSGIApp(plain), "a test")
    flask_sio = siothread.Server()
    app = Flask("probe")
    app.wsgi_app = siothread.WSGIApp(flask_sio, app.wsgi_app)
    serving_on_gevent(app, "a test")
    status, _ = gevent.spawn(handshake, siothread.WSGIApp(flask_sio)).get(timeout=10)
    return {"wsgiapp": state(plain), "flask": state(flask_sio, status=status)}


def serving_after_threading_logs():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logging.getLogger("siothread.engine").addHandler(Keep())
    sio = siothread.Server()
    sio.sleep(0)  # decided here, in the main thread: threading
    serving_on_gevent(siothread.WSGIApp(sio), "siothread's gevent server")
    return state(sio, log=records)


def app_code_made_before_resolution():
    """A handler wrapped before resolution runs as the resolved runtime's app_code makes it."""
    from siothread.engine._threading_lock import LOCK

    out = {}
    for where in ("thread", "greenlet"):
        sio = siothread.Server()
        handler = sio.runtime.app_code(lambda: LOCK._is_owned())  # what registration does
        app = siothread.WSGIApp(sio)
        if where == "thread":
            t = threading.Thread(target=handshake, args=(app,))
            t.start()
            t.join(10)
        else:
            gevent.spawn(handshake, app).join(10)
        with LOCK:
            out[where] = state(sio, lock_held_in_handler=handler())
    return out


SCENARIOS = [undecided, explicit_and_greenlet, first_request_from_thread, first_request_from_greenlet,
             background_task_first, emit_first, serving_finds_the_server, serving_after_threading_logs,
             app_code_made_before_resolution]

if __name__ == "__main__":
    results = {}
    for scenario in SCENARIOS:
        try:
            results[scenario.__name__] = scenario()
        except Exception as exc:  # reported, the test shows it
            results[scenario.__name__] = {"error": repr(exc)}
    print(json.dumps(results))
