"""``socketio.run()``/``stop()`` and ``flask siothread run``: siothread's server, never Werkzeug's (row F2)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from flask import Flask

import siothread
from flask_siothread import SocketIO
from tests.conftest import ROOT, free_port


#: no keep-alive: a connection left idle would outlive the test (until the server's idle timeout)
_CLOSE = {"Connection": "close"}


def _wait_http(url: str, proc: "subprocess.Popen[bytes] | None" = None, timeout: float = 30.0,
               verify: object = True) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            return requests.get(url, timeout=5, headers=_CLOSE, verify=verify)
        except (requests.ConnectionError, requests.Timeout):
            # refused until the server listens; under gunicorn the master listens before the
            # worker has loaded the app, so a request may also wait unanswered until then
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# The server thread binds while the test resolves 127.0.0.1 for its requests: two lookups at once
# grow gevent's resolver threadpool by a worker the session keeps (tests/conftest.py _warm_up).
@pytest.mark.no_leak_check
def test_run_serves_on_siothread_and_stop_drains_clients(make_client):
    app = Flask("run")
    socketio = SocketIO(app)
    stopped = []

    @app.route("/")
    def index():
        return "hello"

    @app.route("/stop")
    def stop():
        socketio.stop()
        return "stopping"

    @socketio.on("disconnect")
    def gone(reason):
        stopped.append(reason)

    port = free_port()
    # a thread of its own (a greenlet, under gevent's monkey-patching), as run() is usually the main program
    runner = threading.Thread(target=socketio.run, args=(app,), kwargs={"port": port, "log_output": False})
    runner.start()
    url = f"http://127.0.0.1:{port}"
    response = _wait_http(url + "/")
    assert response.text == "hello"
    assert "werkzeug" not in response.headers.get("Server", "").lower()
    client = make_client(socketio, app)
    assert client.is_connected()
    assert requests.get(url + "/stop", timeout=5, headers=_CLOSE).text == "stopping"
    runner.join(timeout=15)
    assert not runner.is_alive()
    assert stopped == [siothread.reason.SERVER_SHUTTING_DOWN]
    assert not client.is_connected()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=1)


CERTS = ROOT / "tests" / "client" / "certs"


def _echo_app(name: str, **options: object) -> tuple:
    """An app with ``/stop`` (calls ``socketio.stop()``) and an ``echo`` event."""
    app = Flask(name)
    socketio = SocketIO(app, **options)

    @app.route("/stop")
    def stop():
        socketio.stop()
        return ""

    @socketio.on("echo")
    def echo(data):
        return data

    return app, socketio


def _serve_and_check(app: Flask, socketio: SocketIO, first_path: str, scheme: str = "http",
                     verify: object = True, **run_options: object) -> requests.Response:
    """run() in a thread; GET ``first_path``; an echo over WebSocket; /stop; the thread ends."""
    port = free_port()
    runner = threading.Thread(target=socketio.run, args=(app,), kwargs={"port": port, "log_output": False,
                                                                       **run_options})
    runner.start()
    url = f"{scheme}://127.0.0.1:{port}"
    response = _wait_http(url + first_path, verify=verify)
    client = siothread.Client(reconnection=False, ssl_verify=False)
    client.connect(url, transports=["websocket"], wait_timeout=5)
    try:
        assert client.call("echo", "still socket.io", timeout=5) == "still socket.io"
    finally:
        client.disconnect()
    requests.get(url + "/stop", timeout=5, verify=verify, headers=_CLOSE)
    runner.join(timeout=15)
    assert not runner.is_alive()
    return response


@pytest.mark.no_leak_check  # same resolver-threadpool note as above
def test_run_with_tls_and_flask_socketio_options():
    app, socketio = _echo_app("tls", async_mode="gevent", monitor_clients=True)
    app.add_url_rule("/", "index", lambda: "secure")
    response = _serve_and_check(app, socketio, "/", scheme="https", verify=str(CERTS / "cert.pem"),
                                certfile=str(CERTS / "cert.pem"), keyfile=str(CERTS / "key.pem"))
    assert response.text == "secure"


@pytest.mark.no_leak_check  # same resolver-threadpool note as above
def test_debug_puts_werkzeugs_debugger_in_front_of_views_only(capfd):
    app, socketio = _echo_app("debug")

    @app.route("/fail")
    def fail():
        raise RuntimeError("view failed")

    response = _serve_and_check(app, socketio, "/fail", debug=True, use_reloader=False)
    assert response.status_code == 500 and "Werkzeug Debugger" in response.text
    assert "Debugger PIN" in capfd.readouterr().err


def test_async_modes_other_than_gevent_are_refused():
    with pytest.raises(ValueError, match="gevent only"):
        SocketIO(Flask("x"), async_mode="eventlet")


@pytest.mark.no_leak_check
def test_the_app_object_under_gunicorn_gevent_worker():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}",
                             "--chdir", str(ROOT / "tests" / "flask"), "cli_app:app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_http(url + "/pid", proc).status_code == 200
        for transports in (["websocket"], ["polling"]):
            client = siothread.Client(reconnection=False)
            client.connect(url, transports=transports, wait_timeout=5)
            try:
                assert client.call("ping-me", {"via": transports[0]}, timeout=5) == {"via": transports[0]}
            finally:
                client.disconnect()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stderr.close()


def test_stop_without_run_is_an_error():
    with pytest.raises(RuntimeError, match="socketio.run"):
        SocketIO(Flask("x")).stop()


@pytest.mark.no_leak_check
def test_flask_cli_command_serves_and_reloads(tmp_path: Path):
    port = free_port()
    watched = tmp_path / "watched.txt"
    watched.write_text("1")
    env = dict(os.environ, FLASK_APP=str(ROOT / "tests" / "flask" / "cli_app.py"), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "flask", "siothread", "run", "--port", str(port), "--reload",
                             "--extra-files", str(watched)], env=env, cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        first = _wait_http(url + "/pid", proc)
        assert "werkzeug" not in first.headers.get("Server", "").lower()
        child = int(first.text)
        assert child != proc.pid  # the reloader's parent never serves
        client = siothread.Client(reconnection=False)
        client.connect(url, wait_timeout=5)
        assert client.call("ping-me", 7, timeout=5) == 7
        client.disconnect()
        watched.write_text("2")
        later = watched.stat().st_mtime + 5  # a different modification time, whatever the file system's resolution
        os.utime(watched, (later, later))
        deadline = time.monotonic() + 30
        while True:
            try:
                if int(requests.get(url + "/pid", timeout=1).text) != child:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "no restart after the watched file changed"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
