#!/usr/bin/env bash
# Starts the Flask chat example (examples/flask_chat) on http://127.0.0.1:5000, served by
# flask_siothread's socketio.run() on siothread's gevent server.
# Extra arguments go to the example (e.g. --port 8000, --debug).
source "$(dirname "$0")/_bootstrap.sh"
if [ ! -d examples/node_modules ] || [ examples/package-lock.json -nt examples/node_modules/.package-lock.json ]; then
    (cd examples && npm ci --no-audit --no-fund --loglevel=error)
fi
exec .venv/bin/python examples/flask_chat "$@"
