#!/usr/bin/env bash
# Starts the chat example on http://127.0.0.1:5000 (the embedded gevent server).
source "$(dirname "$0")/_bootstrap.sh"
exec .venv/bin/python examples/chat_wsgi.py "$@"
