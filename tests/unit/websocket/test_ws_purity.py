"""The WebSocket codec imports only the standard library and its protocol siblings
(style principle 1): checked on the source, so the check does not depend on what
other siothread packages import."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import siothread.protocol.websocket as websocket_module
import siothread.protocol.ws_deflate as deflate_module

STDLIB = set(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
ALLOWED_RELATIVE = {"errors", "_compat", "ws_deflate"}
FORBIDDEN = {"gevent", "socket", "threading", "logging", "select", "selectors", "asyncio", "ssl"}


@pytest.mark.parametrize("module", [websocket_module, deflate_module], ids=lambda m: m.__name__)
def test_imports_are_stdlib_only(module: object) -> None:
    if not STDLIB:
        pytest.skip("sys.stdlib_module_names needs Python 3.10")
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert (node.module or "").split(".")[-1] in ALLOWED_RELATIVE, ast.dump(node)
                continue
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        for name in names:
            assert name in STDLIB, f"{name} is not in the standard library"
            assert name not in FORBIDDEN, f"{name} does I/O or concurrency"
