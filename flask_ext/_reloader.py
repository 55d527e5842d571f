"""Restart the server process when a source file changes (``use_reloader=True``).

The first process never serves: it runs the same command again as a child
(``python -m pkg`` stays ``-m pkg``; a console script such as ``flask`` is run
by the same interpreter) and starts it again each time the child exits with
:data:`RESTART_CODE`. The child serves, and a background task compares the
modification times of the loaded modules' files (and ``extra_files``) every
second; on a change it stops the server gracefully and exits with that code.
This is the scheme of Werkzeug's stat reloader, written here because Werkzeug
offers it only through ``run_simple`` (its development server) or a private
module.
"""
from __future__ import annotations

import fnmatch
import os
import signal
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Optional

__all__ = ["RESTART_CODE", "is_child", "run_parent", "watch"]

RESTART_CODE = 3
_ENV = "SIOTHREAD_RELOADER_CHILD"
_INTERVAL = 1.0


def is_child() -> bool:
    """True in the process that serves under the reloader."""
    return os.environ.get(_ENV) == "true"


def _child_command() -> List[str]:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        name = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return [sys.executable, "-m", name, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def run_parent() -> int:
    """Run the child until it exits with something else than :data:`RESTART_CODE`; return that.

    SIGINT and SIGTERM are passed on to the child, which shuts down gracefully;
    its exit code is then the parent's.
    """
    env = dict(os.environ, **{_ENV: "true"})
    print(" * Restarting with the siothread reloader", file=sys.stderr, flush=True)
    child: Optional[subprocess.Popen] = None  # type: ignore[type-arg]

    def forward(signum: int, _frame: Any) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            child = subprocess.Popen(_child_command(), env=env)
            code = child.wait()
            if code != RESTART_CODE:
                return code
            print(" * Detected a change, restarting", file=sys.stderr, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()


def _files(extra: Iterable[str], exclude: Iterable[str]) -> List[str]:
    found = set(extra)
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and filename.endswith((".py", ".pyc")):
            found.add(filename[:-1] if filename.endswith(".pyc") else filename)
    patterns = list(exclude)
    return sorted(f for f in found if not any(fnmatch.fnmatch(f, p) for p in patterns))


def _mtimes(files: Iterable[str]) -> Dict[str, float]:
    times = {}
    for name in files:
        try:
            times[name] = os.stat(name).st_mtime
        except OSError:
            continue
    return times


class _Watcher:
    """The background task of the serving child."""

    def __init__(self, server: Any, stop_event: Any, extra: Iterable[str], exclude: Iterable[str],
                 interval: float) -> None:
        self.changed = False
        self._stop_event = stop_event
        self._extra = list(extra)
        self._exclude = list(exclude)
        self._interval = float(interval)
        self._server = server
        self._task = server.start_background_task(self._loop)

    def _loop(self) -> None:
        known = _mtimes(_files(self._extra, self._exclude))
        while True:
            self._server.sleep(self._interval)
            now = _mtimes(_files(self._extra, self._exclude))
            if any(now.get(name, mtime) != mtime for name, mtime in known.items()):
                self.changed = True
                self._stop_event.set()
                return
            known.update(now)

    def kill(self) -> None:
        if not self._task.dead:
            self._task.kill()


def watch(server: Any, stop_event: Any, extra_files: Optional[Iterable[str]] = None,
          exclude_patterns: Optional[Iterable[str]] = None, interval: float = _INTERVAL) -> _Watcher:
    """Start watching the source files (and ``extra_files``, less ``exclude_patterns``) in the server's loop."""
    return _Watcher(server, stop_event, extra_files or (), exclude_patterns or (), interval)
