#!/usr/bin/env bash
# Runs the whole test suite: sets up .venv and the npm peers, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
source "$(dirname "$0")/_bootstrap.sh"
exec .venv/bin/python -m pytest "$@"
