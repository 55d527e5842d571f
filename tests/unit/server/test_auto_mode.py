"""async_mode=None in a process gevent has not monkey-patched: decided at first use (siothread.engine.modes).

The test process itself is patched (tests/conftest.py), where construction decides;
the rules are observed in a fresh unpatched process (auto_mode_probe.py).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parent / "auto_mode_probe.py"


@pytest.fixture(scope="module")
def probe():
    proc = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, got in results.items():
        assert "error" not in got, (name, got)
    return results


def test_without_evidence_the_server_is_undecided_and_reports_what_detect_mode_picks_where_asked(probe):
    assert probe["undecided"] == {"auto": True, "async_mode": "threading", "resolved": None, "in_greenlet": "gevent"}


def test_explicit_modes_and_a_server_built_in_a_greenlet_are_decided_at_construction(probe):
    assert probe["explicit_and_greenlet"] == {"gevent": [True, "gevent"], "threading": [True, "threading"],
                                              "gevent_uwsgi": [True, "gevent_uwsgi"],
                                              "built_in_greenlet": [True, "gevent"]}


def test_a_first_request_from_an_os_thread_resolves_to_threading(probe):
    got = probe["first_request_from_thread"]
    assert got["status"] == "200 OK" and got["open"] == "0"
    assert (got["resolved"], got["runtime"], got["by"]) == ("threading", "threading", "the first handle_request() call")
    assert got["eio_runtime_is_sio_runtime"] and got["emit_guard_on_instance"]  # the engine lock guards emit


def test_a_first_request_from_a_greenlet_resolves_to_gevent_with_the_plain_methods(probe):
    got = probe["first_request_from_greenlet"]
    assert got["status"] == "200 OK" and got["open"] == "0"
    assert (got["resolved"], got["runtime"], got["async_mode"]) == ("gevent", "gevent", "gevent")
    assert not got["emit_guard_on_instance"]  # the class's emit again: the fast path costs what it did


def test_a_background_task_sleep_or_emit_first_resolves_where_it_is_called(probe):
    main, greenlet = probe["background_task_first"]["main_thread"], probe["background_task_first"]["greenlet"]
    assert (main["resolved"], main["by"], main["ran"]) == ("threading", "runtime.spawn()", True)
    assert (greenlet["resolved"], greenlet["by"]) == ("gevent", "runtime.sleep()")
    assert (probe["emit_first"]["resolved"], probe["emit_first"]["by"]) == ("threading", "the first emit() call")


def test_siothreads_gevent_server_resolves_the_servers_it_finds_in_the_app(probe):
    got = probe["serving_finds_the_server"]
    assert (got["wsgiapp"]["resolved"], got["wsgiapp"]["by"]) == ("gevent", "a test")
    assert (got["flask"]["resolved"], got["flask"]["status"]) == ("gevent", "200 OK")  # through app.wsgi_app


def test_serving_a_server_already_resolved_to_threading_logs_why_and_the_fix(probe):
    got = probe["serving_after_threading_logs"]
    assert got["resolved"] == "threading"
    assert got["log"] == ["async_mode=None resolved to 'threading' at runtime.sleep(), before siothread's gevent "
                          "server started: its requests will be refused. Fix: start background tasks after "
                          "serving starts (or from a request), or build the Server with async_mode='gevent'"]


def test_handlers_wrapped_before_resolution_follow_the_resolved_runtime(probe):
    got = probe["app_code_made_before_resolution"]
    assert got["thread"]["lock_held_in_handler"] is False  # threading: application code runs without the lock
    assert got["greenlet"]["lock_held_in_handler"] is True  # gevent: called as is
