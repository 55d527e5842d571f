"""A chat room on siothread, served by siothread's embedded gevent server.

Run it with ``scripts/demo.sh`` (or ``python examples/chat_wsgi.py --port 5000``) and
open http://127.0.0.1:5000 in two browser tabs; ``examples/client_script.py`` joins
the same room from a terminal.

Events (client -> server):
    ``join`` ``{"name": str}``: enter the room under a name; acked with the member count.
    ``chat message`` ``{"text": str}``: say something; acked with ``{"ok": true}``.
Events (server -> clients): ``message`` ``{"name": str, "text": str}``.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402

import siothread  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOM = "chat"
MAX_NAME, MAX_TEXT = 32, 500

sio = siothread.Server(logger=False)


def _text(value: object, limit: int) -> str:
    """Client input, trimmed to a bounded length: the example never trusts sizes."""
    return value.strip()[:limit] if isinstance(value, str) else ""


@sio.event
def connect(sid, environ, auth):
    sio.save_session(sid, {"name": None})


@sio.event
def join(sid, data):
    name = _text(data.get("name") if isinstance(data, dict) else None, MAX_NAME) or "anonymous"
    with sio.session(sid) as session:
        session["name"] = name
    sio.enter_room(sid, ROOM)
    sio.emit("message", {"name": "server", "text": f"{name} joined"}, to=ROOM)
    return {"members": len(sio.fetch_sockets(room=ROOM))}


@sio.on("chat message")
def chat_message(sid, data):
    text = _text(data.get("text") if isinstance(data, dict) else None, MAX_TEXT)
    name = sio.get_session(sid).get("name")
    if not text or name is None:
        return {"ok": False}
    sio.emit("message", {"name": name, "text": text}, to=ROOM)
    return {"ok": True}


@sio.event
def disconnect(sid, reason):
    name = sio.get_session(sid).get("name")
    if name is not None:
        sio.emit("message", {"name": "server", "text": f"{name} left"}, to=ROOM, skip_sid=sid)


app = siothread.WSGIApp(
    sio,
    static_files={
        "/": os.path.join(HERE, "static", "chat.html"),
        "/socket.io.min.js": {
            "filename": os.path.join(HERE, "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
            "content_type": "application/javascript",
        },
    },
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    siothread.serve(app, host=args.host, port=args.port)
