"""The pure protocol layer: Engine.IO v4, Socket.IO v5 and WebSocket framing.

Bytes and strings in, frozen packet objects out; no networking, no gevent, no
clocks (style principle 1). Everything that needs I/O lives in
:mod:`siothread.engine` and above.
"""
