"""Deployments: deploy_app.py served by a real WSGI server in a subprocess on a free port.

:func:`deploy_many` starts (or reuses, for the whole session) one server process
per (server, env), in parallel, and returns :class:`Deployment` objects. Every
process stops itself after ``DEPLOY_MAX_SECONDS``; :func:`stop_all` kills the
rest by PID (the ``deploy`` fixture calls it at the end of the session).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
JS_DIR = ROOT / "tests" / "js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def need(condition: bool, message: str) -> None:
    """Skip (fail under CI) when an external program the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> Optional[str]:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def command(server: str, port: int) -> List[str]:
    """The command line that serves deploy_app:app with ``server`` on ``port``."""
    if server in ("werkzeug", "waitress", "pywsgi", "siothread"):
        return [sys.executable, str(HERE / "serve_with.py"), server, str(port)]
    if server == "flask-run":
        return [sys.executable, "-m", "flask", "--app", "deploy_app", "run", "--host", "127.0.0.1",
                "--port", str(port), "--with-threads"]
    if server == "flask-siothread-run":
        return [sys.executable, str(HERE / "flask_run_app.py"), str(port)]
    if server == "cli":
        return [sys.executable, "-m", "siothread", "deploy_app:app", "--host", "127.0.0.1", "--port", str(port)]
    gunicorn = [_bin("gunicorn") or "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--chdir", str(HERE),
                "--graceful-timeout", "1", "--log-level", "warning"]
    if server == "gunicorn-gthread":
        return gunicorn + ["-k", "gthread", "--threads", "32", "deploy_app:app"]
    if server == "gunicorn-gevent":
        return gunicorn + ["-k", "gevent", "deploy_app:app"]
    if server == "gunicorn-geventwebsocket":
        return gunicorn + ["-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker", "deploy_app:app"]
    uwsgi = [_bin("uwsgi") or "uwsgi", "--http", f"127.0.0.1:{port}", "--http-websockets", "--master",
             "--processes", "1", "--chdir", str(HERE), "--wsgi-file", "deploy_app.py", "--callable", "app",
             "--disable-logging", "--die-on-term", "--need-app", "--lazy-apps",
             "--home", str(Path(sys.executable).parent.parent)]
    if server == "uwsgi-gevent":
        return uwsgi + ["--gevent", "100"]
    if server == "uwsgi-threads":
        return uwsgi + ["--enable-threads", "--threads", "32"]
    raise ValueError(server)


class Deployment:
    """One server process serving deploy_app."""

    def __init__(self, server: str, env: Dict[str, str]) -> None:
        self.server = server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]), DEPLOY_MAX_SECONDS="600",
                        PYTHONUNBUFFERED="1", **env)
        full_env.pop("CI", None)
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"siothread-deploy-{os.getpid()}-{self.port}.log"
        self._log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen(command(server, self.port), cwd=str(HERE), env=full_env,
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.mode: Optional[str] = None

    def wait_ready(self, timeout: float = 30) -> "Deployment":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.server} exited ({self.proc.returncode}):\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/mode", timeout=2) as r:
                    self.mode = json.loads(r.read())["async_mode"]
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.server} did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        try:
            self.log_path.unlink()
        except OSError:
            pass


_RUNNING: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], Deployment] = {}


def deploy_many(specs: List[Tuple[str, Dict[str, str]]]) -> List[Deployment]:
    """Start the servers not yet running (in parallel), then wait for all of them."""
    out = []
    for server, env in specs:
        key = (server, tuple(sorted(env.items())))
        if key not in _RUNNING or _RUNNING[key].proc.poll() is not None:
            _RUNNING[key] = Deployment(server, env)
        out.append(_RUNNING[key])
    for d in out:
        if d.mode is None:
            d.wait_ready()
    return out


def require_node_modules() -> None:
    need(shutil.which("node") is not None, "node not found: install Node.js 20")
    need((JS_DIR / "node_modules" / "socket.io-client").is_dir(),
         "tests/js/node_modules missing: run `npm ci` in tests/js (scripts/test.sh does)")


def stop_all() -> None:
    for d in list(_RUNNING.values()):
        d.stop()
    _RUNNING.clear()
