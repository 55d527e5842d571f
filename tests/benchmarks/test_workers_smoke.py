"""Smoke run of ``python -m benchmarks.workers``: 1 and 2 worker processes and the hand-off rows
produce numbers without errors (nothing is timed)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_node_modules

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.node


def test_workers_benchmark_smoke():
    require_node_modules()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.workers", "--smoke", "--duration", "0.5", "--nice", "0"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "| echo | 2 |" in proc.stdout and "relayed" in proc.stdout
