"""Fixtures of the deploy tests (the deployments themselves: deployments.py)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from deployments import Deployment, deploy_many, stop_all  # noqa: E402


@pytest.fixture(scope="session")
def deploy() -> Iterator:
    """``deploy(server, **env)``: a running :class:`Deployment` (shared for the session)."""
    def start(server: str, **env: str) -> Deployment:
        return deploy_many([(server, env)])[0]

    yield start
    stop_all()


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Tests that talk to deployments in other processes open their descriptors (the
    session's server processes and logs) during the test: no in-process leak check."""
    for item in items:
        if HERE in Path(item.path).parents and "deploy" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.no_leak_check)
