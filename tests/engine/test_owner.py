"""Sessions and transports report to their owner only through ``SessionOwner`` (engine/owner.py);
the engine's WebSocket text fast path agrees with the general decoder.

A recording owner stands in for the engine server (the seam is internal, not an
edge), which proves a session needs nothing else of it; the real server is checked
to provide every member, and ``has_session`` is checked on a real server.
"""
from __future__ import annotations

import logging
from typing import Any, List, Tuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from siothread.engine import Server
from siothread.engine._runtime import RUNTIME
from siothread.engine.config import EngineConfig
from siothread.engine.owner import SessionOwner
from siothread.engine.session import Reason, Session
from siothread.protocol.engineio import PacketType, decode_ws_text


class RecordingOwner:
    """A SessionOwner that records every report, in order."""

    def __init__(self, **options: Any) -> None:
        self.config = EngineConfig.from_kwargs(**options)
        self.runtime = RUNTIME
        self.logger = logging.getLogger("test.owner")
        self.debug = False
        self.reports: List[Tuple[str, Any]] = []

    def session_packet(self, session: Session, packet: Any) -> None:
        self.reports.append(("packet", packet))

    def session_overflow(self, session: Session) -> bool:
        self.reports.append(("overflow", session.sid))
        return False

    def session_closing(self, session: Session) -> None:
        self.reports.append(("closing", session.sid))

    def keep_last_poll(self, session: Session) -> None:
        self.reports.append(("keep_last_poll", session.sid))

    def session_closed(self, session: Session, reason: str) -> None:
        self.reports.append(("closed", reason))


def protocol_members() -> List[str]:
    names = [n for n in vars(SessionOwner) if not n.startswith("_")]
    return sorted(set(names) | set(SessionOwner.__annotations__))


def test_the_engine_server_provides_every_member_of_the_interface() -> None:
    eio = Server()
    missing = [name for name in protocol_members() if not hasattr(eio, name)]
    assert missing == []
    assert {"config", "runtime", "logger", "debug", "session_packet", "session_overflow", "session_closing",
            "keep_last_poll", "session_closed"} == set(protocol_members())


def test_a_polling_session_reports_overflow_then_its_close_in_order() -> None:
    owner = RecordingOwner(max_queue=2)
    session = Session(owner, "s1", {}, "polling")
    assert session.send_text_packet("4a") and session.send_text_packet("4b")
    assert session.send_text_packet("4c") is False
    session.close(Reason.SERVER)
    assert owner.reports == [("overflow", "s1"), ("closing", "s1"), ("keep_last_poll", "s1"),
                             ("closed", Reason.SERVER)]
    session.close(Reason.SERVER)  # once only
    assert len(owner.reports) == 4


def test_a_session_whose_peer_is_gone_keeps_no_last_poll() -> None:
    owner = RecordingOwner()
    session = Session(owner, "s2", {}, "polling")
    session.close(Reason.PING_TIMEOUT)
    assert owner.reports == [("closing", "s2"), ("closed", Reason.PING_TIMEOUT)]


def test_has_session_covers_a_closed_session_whose_last_poll_is_pending() -> None:
    eio = Server()
    session = eio._new_session({}, "polling")
    sid = session.sid
    assert eio.has_session(sid) and eio.is_connected(sid)
    eio.disconnect(sid)  # no GET parked: the CLOSE waits for the next one, here
    assert not eio.is_connected(sid) and eio.has_session(sid)
    assert not eio.has_session("unknown")
    eio._drop_last_poll(session)
    assert not eio.has_session(sid)


# -- the WebSocket text fast path -------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
@example("4")
@example("4hello")
@example("4a\x1e4b")
@example("2")
@example("")
def test_the_ws_text_fast_path_agrees_with_the_general_decoder(text: str) -> None:
    """engine Server._on_ws_message: a lone MESSAGE frame skips decode_ws_text; both give the same data."""
    eio = Server()
    fast: List[Any] = []
    eio.on("message", lambda sid, data: fast.append(data))
    session = Session(eio, "s", {}, "websocket")
    # open and without a transport: whatever the server answers is queued, nothing is sent
    try:
        general = [p.data if p.data is not None else "" for p in decode_ws_text(text)
                   if p.type is PacketType.MESSAGE]
    except Exception as exc:  # the general decoder refuses it: so must the server
        with pytest.raises(type(exc)):
            eio._on_ws_message(session, text)
        return
    eio._on_ws_message(session, text)
    assert fast == general
