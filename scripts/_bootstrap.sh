# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
# Creates .venv with siothread installed in editable mode and installs the pinned
# npm packages of tests/js. Safe to run again: each step is skipped when current.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        # Debian splits venv out of the interpreter package.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            rm -rf .venv && "$PY" -m venv .venv
        else
            echo "python3 -m venv failed: install the python3-venv package" >&2
            exit 1
        fi
    fi
fi
stamp=".venv/.siothread-installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # uWSGI (a server of tests/deploy) is built from source by pip: a C compiler and Python's headers.
    include="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    if { ! command -v gcc >/dev/null || [ ! -f "$include/Python.h" ]; } \
            && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev >/dev/null
    fi
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
fi
if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
