#!/usr/bin/env bash
# Runs the whole test suite: sets up .venv, the npm peers and Chromium, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/engine -x).
#
# The Flask extension supports Flask 2.2 through the current 3.x: tests/flask first runs in
# .venv-flask22, pinned to Flask/Werkzeug 2.2 (created once, like .venv, and rebuilt when setup.cfg
# or this script changes), then the main run uses the newest Flask (the dev extra). The Flask 2.2
# run happens for a whole-suite run, or when the arguments name tests/flask; it comes first so
# that the whole suite's summary line is the last line printed.
source "$(dirname "$0")/_bootstrap.sh"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # The browser test drives the chat example in headless Chromium (Debian's package).
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # The Redis adapter tests start their own redis-server (standalone and a 3-node cluster) on free ports.
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
if [ ! -d examples/node_modules ] || [ examples/package-lock.json -nt examples/node_modules/.package-lock.json ]; then
    (cd examples && npm ci --no-audit --no-fund --loglevel=error)
fi

flask_oldest=0
if [ $# -eq 0 ] || { [ $# -eq 1 ] && [ "$1" = "--run-slow" ]; }; then
    flask_oldest=1
else
    for arg in "$@"; do
        case "$arg" in tests/flask|tests/flask/*|./tests/flask*) flask_oldest=1 ;; esac
    done
fi

status=0
if [ "$flask_oldest" = 1 ]; then
    stamp=".venv-flask22/.siothread-installed"
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ scripts/test.sh -nt "$stamp" ]; then
        rm -rf .venv-flask22
        "$PY" -m venv .venv-flask22
        .venv-flask22/bin/python -m pip install -q --upgrade pip
        # the oldest supported Flask, and only what tests/flask needs
        .venv-flask22/bin/python -m pip install -q -e . "flask==2.2.*" "werkzeug==2.2.*" "flask-login==0.6.3" \
            "flask-session==0.8.0" "pytest>=7.4" "requests>=2.28" "websocket-client>=1.6" "gunicorn>=21.2"
        touch "$stamp"
    fi
    echo "tests/flask with Flask $(.venv-flask22/bin/python -c 'from importlib.metadata import version; print(version("flask"))')"
    .venv-flask22/bin/python -m pytest tests/flask -q || status=$?
fi
if [ $# -eq 0 ] || { [ $# -eq 1 ] && [ "$1" = "--run-slow" ]; }; then
    # the whole suite: its directories in a few pytest processes side by side
    .venv/bin/python scripts/_parallel_pytest.py "$@" || status=$?
else
    .venv/bin/python -m pytest "$@" || status=$?
fi
exit $status
