#!/usr/bin/env bash
# Runs the whole test suite: sets up .venv, the npm peers and Chromium, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/engine -x).
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
exec .venv/bin/python -m pytest "$@"
