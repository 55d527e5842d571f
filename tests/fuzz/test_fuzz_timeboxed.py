"""C4 in CI: each atheris harness runs for a few seconds in its own process.

A crash (any exception other than RemoteProtocolError, or a broken invariant)
makes libFuzzer exit non-zero and write the input to ``crash-*``; the test
prints the harness output so the input can be turned into a C5 regression row.
Longer runs: see README.md in this folder.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is not installed (dev extra, Linux x86-64 wheels)")

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("SIOTHREAD_FUZZ_SECONDS", "5"))


@pytest.mark.parametrize("harness", ["fuzz_engineio.py", "fuzz_socketio.py", "fuzz_websocket.py"])
def test_c4_atheris_harness_finds_no_crash(harness, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(HERE / harness), f"-max_total_time={SECONDS}", "-rss_limit_mb=2048",
         "-timeout=10", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=SECONDS + 60, cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "Done " in output, output[-2000:]
