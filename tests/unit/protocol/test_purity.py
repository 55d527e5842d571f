"""Row C6: the protocol layer is pure (style principle 1).

Importing ``siothread.protocol`` and every module in it, in a fresh
interpreter, must not import gevent, socket, threading, logging or any other
I/O machinery; ``msgpack`` is imported on first use only.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ["gevent", "greenlet", "socket", "ssl", "select", "selectors", "threading", "asyncio", "logging", "msgpack"]

# Imports every module of siothread.protocol, then reports which forbidden
# top-level modules ended up loaded. With STUB_ROOT the package root
# (siothread/__init__.py) is replaced by an empty package, so only the
# protocol modules themselves (and siothread.errors) are under test.
PROBE = """
import importlib, json, os, pkgutil, sys, types
if {stub_root!r}:
    root = types.ModuleType("siothread")
    root.__path__ = [os.path.join({root!r}, "siothread")]
    sys.modules["siothread"] = root
import siothread.protocol as protocol
names = sorted(m.name for m in pkgutil.iter_modules(protocol.__path__))
for name in names:
    importlib.import_module("siothread.protocol." + name)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({forbidden!r}))
print(json.dumps({{"modules": names, "loaded": loaded}}))
"""


def probe(stub_root: bool) -> dict:
    code = PROBE.format(stub_root=stub_root, root=str(ROOT), forbidden=FORBIDDEN)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_protocol_modules_are_pure() -> None:
    report = probe(stub_root=True)
    assert {"engineio", "socketio", "binary", "jsonsafe", "msgpack_codec"} <= set(report["modules"])
    assert report["loaded"] == []


def test_importing_siothread_protocol_is_pure() -> None:
    assert probe(stub_root=False)["loaded"] == []
