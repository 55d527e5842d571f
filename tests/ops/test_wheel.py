"""The package as users install it: ``python -m build``, then the wheel in a clean venv.

Built once per session into a temporary folder. The venv has no editable install and
the repository is on no path (``python -I`` from a folder outside it): the README's
quickstart runs from the installed wheel, and the installed client makes a round trip
to it. The extras resolve (``pip install --dry-run``; the pip cache keeps it quick).
"""
from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict

import pytest

from tests.conftest import ROOT, free_port

EXTRAS = ["flask", "redis", "msgpack", "client", "metrics", "otel", "admin"]
CLIENT = """
import sys
import siothread
assert "site-packages" in siothread.__file__, siothread.__file__
client = siothread.Client()
client.connect(sys.argv[1], transports=["polling", "websocket"])
try:
    print(repr((siothread.__version__, client.call("echo", {"from": "wheel"}, timeout=5))))
finally:
    client.disconnect()
"""


def run(*args: object, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, dist: Dict[str, Path]) -> Path:
    home = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", home / "env", cwd=home)
    python = home / "env" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{dist['wheel']}[client]", cwd=home)
    return python


def version() -> str:
    text = (ROOT / "siothread" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert match
    return match.group(1)


def test_wheel_and_sdist_contents(dist: Dict[str, Path]) -> None:
    v = version()
    assert dist["wheel"].name == f"siothread-{v}-py3-none-any.whl"
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    assert {"siothread/py.typed", "flask_siothread/py.typed", "siothread/metrics.py",
            "siothread/server/admin_auth.py", "siothread/protocol/socketio.py"} <= names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    metadata = zipfile.ZipFile(dist["wheel"]).read(f"siothread-{v}.dist-info/METADATA").decode()
    assert f"Version: {v}" in metadata
    assert "Requires-Dist: gevent>=23.9.0\n" in metadata and "Requires-Dist: gevent-websocket" in metadata
    for extra in EXTRAS:
        assert f"Provides-Extra: {extra}" in metadata
    with tarfile.open(dist["sdist"]) as sdist:
        members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
    assert {"CHANGELOG.md", "README.md", "setup.cfg", "pyproject.toml", "siothread/py.typed"} <= members


def test_quickstart_and_client_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.S)
    assert quickstart, "README.md has no quickstart block"
    port = free_port()
    code = quickstart.group(1).replace("port=5000", f"port={port}")
    assert f"port={port}" in code
    (tmp_path / "quickstart.py").write_text(code)
    (tmp_path / "client.py").write_text(CLIENT)
    server = subprocess.Popen([str(venv), "-I", "quickstart.py"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                out = run(venv, "-I", "client.py", url, cwd=tmp_path, timeout=30)
                break
            except AssertionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert out.strip() == repr((version(), {"from": "wheel"}))
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=15)
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()
    assert "Traceback" not in err, err


def test_extras_install_cleanly(venv: Path, dist: Dict[str, Path], tmp_path: Path) -> None:
    out = run(venv, "-m", "pip", "install", "--dry-run", "--disable-pip-version-check",
              f"{dist['wheel']}[{','.join(EXTRAS)}]", cwd=tmp_path)
    would = out.splitlines()[-1]
    assert would.startswith("Would install"), out
    for name in ("prometheus", "opentelemetry", "bcrypt", "msgpack", "redis", "Flask"):
        assert name.lower() in would.lower(), would
