"""Servers and peers the test suites share (imported as ``tests.support.<module>``).

- :mod:`.engine_harness`: a real :class:`siothread.engine.Server` echo server on
  ``127.0.0.1:0`` that records its handler calls (the engine and robustness suites);
- :mod:`.fake_engine`: an in-memory Engine.IO server with the engine's interface,
  under a real Socket.IO server (the unit tests of ``siothread/server``).

Process-level helpers (``free_port``, ``require_program``, ``require_node_modules``)
are in ``tests/conftest.py``; suite-specific peers (raw sockets, Node scripts)
stay next to their suite.
"""
