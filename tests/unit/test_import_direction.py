"""Dependencies between the layers run one way (docs/architecture.md).

Read statically from the source, so an import hidden under ``TYPE_CHECKING`` or
inside a function counts too:

- ``siothread.protocol`` imports only the standard library, ``siothread.errors``
  and itself (the runtime probe in ``protocol/test_purity.py`` checks what
  actually loads);
- ``siothread.adapters`` never imports ``siothread.server``: adapters see the
  server only through ``AdapterHost``;
- no engine session or transport module imports ``siothread.engine.server``:
  they report to it only through ``SessionOwner`` (``engine/owner.py``).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "siothread"


def imports_of(path: Path, package: str = "") -> Iterator[Tuple[int, str]]:
    """``(line, absolute module name)`` of every import statement in ``path``.

    ``from X import name`` yields ``X`` and ``X.name`` (the name may be a module).
    """
    package = package or ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                module = f"{prefix}.{node.module}" if node.module else prefix
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def modules_in(subpackage: str) -> list:
    return sorted((PACKAGE / subpackage).rglob("*.py"))


def test_the_walker_sees_relative_and_hidden_imports(tmp_path: Path) -> None:
    # The rule tests below are only as good as this walker: prove it resolves
    # relative imports and finds imports inside TYPE_CHECKING blocks.
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..server import server\n"
                     "def f():\n    from . import memory\n")
    found = {name for _, name in imports_of(probe, package="siothread.adapters")}
    assert {"siothread.server", "siothread.server.server", "siothread.adapters.memory"} <= found


@pytest.mark.parametrize("path", modules_in("adapters"), ids=lambda p: p.name)
def test_adapters_do_not_import_the_server(path: Path) -> None:
    bad = [(line, name) for line, name in imports_of(path)
           if name == "siothread.server" or name.startswith("siothread.server.")]
    assert bad == [], f"{path.name} imports the server package: {bad}"


@pytest.mark.parametrize("path", modules_in("protocol"), ids=lambda p: p.name)
def test_protocol_imports_only_the_standard_library(path: Path) -> None:
    stdlib = sys.stdlib_module_names
    bad = []
    for line, name in imports_of(path):
        top = name.split(".")[0]
        if name.startswith("siothread."):
            if not name.startswith(("siothread.errors", "siothread.protocol")):
                bad.append((line, name))
        # msgpack: loaded lazily, only for serializer='msgpack'; typing_extensions: for type checkers only
        elif top not in stdlib and top not in ("msgpack", "typing_extensions"):
            bad.append((line, name))
    assert bad == [], f"{path.name} imports outside the standard library: {bad}"


#: the engine modules below ``engine/server.py``: sessions, transports and what they use
ENGINE_BELOW_SERVER = ("session.py", "polling.py", "websocket.py", "legacy.py", "ws_accept.py", "owner.py",
                       "http.py", "prepared.py", "config.py", "_runtime.py", "_threading_runtime.py",
                       "_threading_lock.py", "_threading_io.py", "modes.py", "diagnostics.py", "_auto_runtime.py")


def test_every_engine_module_is_placed() -> None:
    # A new engine module must be classified here (below the server, or the server itself).
    names = {p.name for p in modules_in("engine")}
    assert names - set(ENGINE_BELOW_SERVER) == {"__init__.py", "server.py"}


@pytest.mark.parametrize("name", ENGINE_BELOW_SERVER)
def test_sessions_and_transports_do_not_import_the_engine_server(name: str) -> None:
    path = PACKAGE / "engine" / name
    bad = [(line, imported) for line, imported in imports_of(path)
           if imported == "siothread.engine.server" or imported.startswith("siothread.engine.server.")]
    assert bad == [], f"engine/{name} imports engine/server.py: {bad}"
