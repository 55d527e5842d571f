"""Shared test harness.

- gevent monkey-patches the process first, so that blocking clients in tests
  (requests, websocket-client, subprocess) cooperate with in-process servers.
- Every test runs under a gevent.Timeout and fails on leaks: live greenlets
  and open file descriptors must return to their baseline after the test
  (style principle 14, ``gevent.testing.leakcheck`` / ``openfiles``).
- External programs (node, redis-server, chromium) are looked up through
  ``require_program``: with ``CI=true`` a missing one fails the test, on a
  laptop it skips with a reason naming what to install.
"""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Iterator  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# shared helper modules of the suite (threaded_wsgi) are imported by name (--import-mode=importlib)
if str(ROOT / "tests") not in __import__("sys").path:
    __import__("sys").path.insert(0, str(ROOT / "tests"))
JS_DIR = ROOT / "tests" / "js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_TIMEOUT = float(os.environ.get("SIOTHREAD_TEST_TIMEOUT", "60"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the long soak/churn variants")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Long soak/churn variants run only with --run-slow; otherwise they are deselected
    (not skipped: under CI=true no test may be skipped, and these are not meant for CI)."""
    if config.getoption("--run-slow"):
        return
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]


def require_program(name: str, install_hint: str) -> str:
    """Path of an external program; fail under CI, skip elsewhere, when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: install {install_hint}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_node_modules(package: str = "socket.io-client") -> Path:
    """The tests/js folder with its npm packages (``package`` checked) installed (see scripts/test.sh)."""
    require_program("node", "Node.js 20 (Debian package nodejs)")
    if not (JS_DIR / "node_modules" / package).is_dir():
        message = "tests/js/node_modules missing: run `npm ci` in tests/js (scripts/test.sh does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return JS_DIR


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers that cannot bind port 0 themselves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _live_greenlets() -> int:
    # The threading runtime's timer thread (a greenlet here, under monkey-patching) lives
    # while timers are pending, as libev timers do under gevent, which are not greenlets.
    # Hubs are not counted: another one appears when gevent's resolver pool starts a second
    # worker thread (two concurrent name lookups), which then stays for the session.
    timers = {ident for ident, t in threading._active.items() if t.name == "siothread-timers"}
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, greenlet.greenlet) and not o.dead and not isinstance(o, gevent.hub.Hub)
        and o.parent is not None and id(o) not in timers
    )


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: the fd check is skipped
        return 0


_PURE_DIRS = (ROOT / "tests" / "unit" / "protocol", ROOT / "tests" / "unit" / "websocket")


def _is_pure(path: Path) -> bool:
    """Tests of the pure codec start no greenlet and open no file: no leak check needed
    (it walks every object in the process and would dominate their run time)."""
    return any(parent in _PURE_DIRS for parent in Path(path).parents)


@pytest.fixture(scope="session", autouse=True)
def _warm_up() -> None:
    # Name lookups run on gevent's hub threadpool, whose workers retire after 5 s
    # idle: a worker started inside a test would look like a leaked greenlet until
    # then. Keep the workers for the session, and start them (and the resolver's
    # pipes) before any test takes its baseline.
    pool = gevent.get_hub().threadpool
    pool._idle_task_timeout = -1
    pool.kill()  # workers started earlier keep the timeout they read at start
    pool.apply(lambda: None)
    socket.getaddrinfo("127.0.0.1", 80)
    socket.getaddrinfo("localhost", 80)


@pytest.fixture(autouse=True)
def leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves greenlets or file descriptors behind; bound its run time."""
    if request.node.get_closest_marker("no_leak_check") or _is_pure(request.node.path):
        with gevent.Timeout(TEST_TIMEOUT):
            yield
        return
    gc.collect()
    before_g, before_fd = _live_greenlets(), _open_fds()
    with gevent.Timeout(TEST_TIMEOUT):
        yield
    deadline = time.monotonic() + 5.0
    while True:
        gc.collect()
        now_g, now_fd = _live_greenlets(), _open_fds()
        if now_g <= before_g and now_fd <= before_fd:
            return
        if time.monotonic() > deadline:
            break
        gevent.sleep(0.05)
    pytest.fail(
        f"leak: greenlets {before_g} -> {now_g}, fds {before_fd} -> {now_fd}", pytrace=False
    )
