"""Socket.IO side of the chat.

Client -> server (each acknowledged):
    ``join`` ``{"room"}`` -> ``{"room", "history": [message...], "members"}``
    ``leave`` ``{"room"}`` -> ``{"ok"}``
    ``message`` ``{"room", "text"}`` -> ``{"ok", "id"}`` (the message as stored)
    ``typing`` ``{"room", "typing": bool}`` (no ack)
Server -> client:
    ``message`` ``{"id", "room", "nickname", "text", "system"}``: in every room the client is in;
    ``typing`` ``{"room", "nickname", "typing"}``: volatile, never replayed after a reconnection.

The nickname comes from the Flask session (the login view). Connections without
one are refused. Rooms, history sizes and texts are bounded: the example never
trusts a client's sizes.
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from typing import Any, Deque, Dict, List

from flask import request, session

from flask_siothread import ConnectionRefusedError, emit, join_room, leave_room, rooms

from . import socketio

MAX_ROOM, MAX_TEXT, MAX_ROOMS, HISTORY = 32, 500, 10, 50
#: rooms whose history is kept; the least recently active one is forgotten first
MAX_HISTORIES = 1000

_history: "OrderedDict[str, Deque[Dict[str, Any]]]" = OrderedDict()
_ids = itertools.count(1)
_lock = threading.Lock()


def _room(data: Any) -> str:
    value = data.get("room") if isinstance(data, dict) else None
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value.strip().lower() if ch.isalnum() or ch in "-_")[:MAX_ROOM]


def _my_rooms() -> List[str]:
    return [r for r in rooms() if r != request.sid]


def _post(room: str, nickname: str, text: str, system: bool = False) -> Dict[str, Any]:
    """Store a message in the room's history and send it to the room."""
    with _lock:
        message = {"id": next(_ids), "room": room, "nickname": nickname, "text": text, "system": system}
        _history.setdefault(room, deque(maxlen=HISTORY)).append(message)
        _history.move_to_end(room)
        while len(_history) > MAX_HISTORIES:
            _history.popitem(last=False)
    socketio.emit("message", message, to=room)
    return message


@socketio.on("connect")
def connect(auth: Any) -> None:
    if not session.get("nickname"):
        raise ConnectionRefusedError("login first", {"login": "/"})


@socketio.on("join")
def join(data: Any) -> Dict[str, Any]:
    room = _room(data)
    if not room:
        return {"error": "invalid room"}
    if room not in _my_rooms():
        if len(_my_rooms()) >= MAX_ROOMS:
            return {"error": "too many rooms"}
        join_room(room)
        _post(room, "server", f"{session['nickname']} joined", system=True)
    with _lock:
        history = list(_history.get(room, ()))
    members = len(socketio.server.fetch_sockets(room=room))
    return {"room": room, "history": history, "members": members}


@socketio.on("leave")
def leave(data: Any) -> Dict[str, Any]:
    room = _room(data)
    if room in _my_rooms():
        emit("typing", {"room": room, "nickname": session["nickname"], "typing": False}, to=room,
             include_self=False, volatile=True)
        leave_room(room)
        _post(room, "server", f"{session['nickname']} left", system=True)
    return {"ok": True}


@socketio.on("message")
def message(data: Any) -> Dict[str, Any]:
    room = _room(data)
    text = data.get("text") if isinstance(data, dict) else None
    text = text.strip()[:MAX_TEXT] if isinstance(text, str) else ""
    if not text or room not in _my_rooms():
        return {"ok": False}
    stored = _post(room, session["nickname"], text)
    return {"ok": True, "id": stored["id"]}


@socketio.on("typing")
def typing(data: Any) -> None:
    room = _room(data)
    if room in _my_rooms():
        state = bool(data.get("typing")) if isinstance(data, dict) else False
        emit("typing", {"room": room, "nickname": session["nickname"], "typing": state}, to=room,
             include_self=False, volatile=True)
