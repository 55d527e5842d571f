"""Run the whole suite as a few pytest processes at once, then print one summary.

The suite's servers bind their own free ports and its tests wait on the network
far more than they compute, so independent directories run side by side (pytest-xdist
cannot be used: the suite monkey-patches the process with gevent, which xdist's
worker threads do not survive). Each group's output is printed whole, one after
the other, followed by ``N passed, N failed, N skipped`` over all groups.

Usage: python scripts/_parallel_pytest.py [pytest options...]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]

#: directories grouped so that each group takes about as long; a test directory not
#: named here joins the first group, so nothing is ever left out.
GROUPS: List[List[str]] = [
    ["tests/unit", "tests/engine", "tests/conformance", "tests/fuzz"],
    ["tests/integration", "tests/client", "tests/robustness", "tests/browser", "tests/ops"],
    ["tests/redis", "tests/workers", "tests/deploy", "tests/flask", "tests/benchmarks"],
]


def test_directories() -> List[str]:
    found = []
    for path in sorted((ROOT / "tests").iterdir()):
        if path.is_dir() and any(path.rglob("test_*.py")):
            found.append(f"tests/{path.name}")
    return found


def groups() -> List[List[str]]:
    named = {d for group in GROUPS for d in group}
    out = [[d for d in group if (ROOT / d).is_dir()] for group in GROUPS]
    out[0] += [d for d in test_directories() if d not in named]
    return [g for g in out if g]


def counts(junit: Path) -> Dict[str, int]:
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not junit.exists():
        return total
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    return total


def main(extra: List[str]) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="siothread-tests-"))
    started = time.monotonic()
    procs = []
    for i, dirs in enumerate(groups()):
        log = open(tmp / f"{i}.log", "wb")
        cmd = [sys.executable, "-m", "pytest", *dirs, "-q", f"--junitxml={tmp / f'{i}.xml'}", *extra]
        procs.append((dirs, log, subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)))
    status = 0
    for i, (dirs, log, proc) in enumerate(procs):
        code = proc.wait()
        log.close()
        print(f"===== {' '.join(dirs)} (exit {code})", flush=True)
        sys.stdout.write((tmp / f"{i}.log").read_text(errors="replace"))
        # 5: a group collected nothing (every test deselected): not a failure of the suite
        if code not in (0, 5):
            status = code or 1
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for i in range(len(procs)):
        for key, value in counts(tmp / f"{i}.xml").items():
            total[key] += value
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    failed = total["failures"] + total["errors"]
    print(f"===== whole suite in {time.monotonic() - started:.0f} s")
    print(f"{passed} passed, {failed} failed, {total['skipped']} skipped", flush=True)
    if failed and not status:
        status = 1
    return status


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
