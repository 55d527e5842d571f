"""Smoke run of the benchmark suite: every scenario at tiny sizes against real server processes.

Benchmarks are not timed tests: these only check that each scenario produces its
numbers without a protocol or connection error, so the suite keeps working. The
numbers themselves come from ``python -m benchmarks.run`` (docs/benchmarks.md).
"""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__file__", None)
        if file and Path(file).resolve() == path:
            return mod
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load("benchmarks_run", ROOT / "benchmarks" / "run.py")
require_node_modules = _load("tests_root_conftest", ROOT / "tests" / "conftest.py").require_node_modules

pytestmark = pytest.mark.node


def smoke(server: str, scenario: str) -> None:
    require_node_modules()
    # No core pinning here: CI machines may not allow it, and nothing is timed.
    result = bench.run_one(server, scenario, profile="smoke", server_core=None, gen_core=None)
    assert result["errors"] == [], result
    value = bench.metric_of(scenario, result)
    assert value is not None, result
    if scenario != "memory":  # an RSS delta over 5 connections may be anything
        assert result["count"] > 0, result
        assert value > 0, result
        assert result["gen_cpu"] is not None, result


@pytest.mark.parametrize("scenario", list(bench.SCENARIOS))
def test_smoke_python_socketio(scenario: str) -> None:
    smoke("python-socketio", scenario)


@pytest.mark.parametrize("scenario", list(bench.SCENARIOS))
def test_smoke_siothread(scenario: str) -> None:
    smoke("siothread", scenario)


def test_redis_cross_node_benchmark_smoke():
    """benchmarks/redis_cluster: one tiny run of the siothread stack end to end."""
    require_node_modules()
    _load("tests_root_conftest", ROOT / "tests" / "conftest.py").require_program(
        "redis-server", "Debian's redis-server package (scripts/test.sh installs it)")
    cross = _load("benchmarks_redis_cluster", ROOT / "benchmarks" / "redis_cluster" / "run.py")
    result = cross.run_stack("siothread", clients=5, count=20, rate=20, seconds=0.5)
    assert result["throughput"]["received"] == result["throughput"]["expected"] == 100
    assert result["latency"]["received"] == result["latency"]["expected"] == 50


def test_redis_streams_benchmarks_smoke():
    """The streams stack of benchmarks/redis_cluster and benchmarks/streams_session_memory, tiny."""
    import json
    import subprocess

    require_node_modules()
    _load("tests_root_conftest", ROOT / "tests" / "conftest.py").require_program(
        "redis-server", "Debian's redis-server package (scripts/test.sh installs it)")
    cross = _load("benchmarks_redis_cluster", ROOT / "benchmarks" / "redis_cluster" / "run.py")
    result = cross.run_stack("siothread-streams-recovery", clients=5, count=20, rate=20, seconds=0.5)
    assert result["throughput"]["received"] == result["throughput"]["expected"] == 100
    out = subprocess.run([sys.executable, "-m", "benchmarks.streams_session_memory", "--sessions", "5",
                          "--missed", "3"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    memory = json.loads(out.stdout.strip().splitlines()[-1])
    assert memory["sessions"] == 5 and memory["heap_bytes_per_restored_session"] > 0
