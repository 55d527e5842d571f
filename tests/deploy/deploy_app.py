"""The application the deploy tests serve: the patterns of python-socketio's sync examples.

A Flask page app with a background task that emits on a timer, echo / broadcast /
join / leave / send-to-room / close-room / disconnect events, a ping-pong latency
event and a connect handler that greets with the client's ``auth``. Written the
way a python-socketio application is (``import siothread as socketio``, handlers
with ``room=``), and configured by environment variables so that every WSGI
server can import it unchanged:

- ``DEPLOY_PATCH=1``: ``gevent.monkey.patch_all()`` first;
- ``DEPLOY_ASYNC_MODE``: the ``async_mode`` (empty: None, the automatic choice);
- ``DEPLOY_TICK``: seconds between the background task's events (default 10);
- ``DEPLOY_CLIENT_JS``: the socket.io-client browser bundle served at ``/client.js``
  for the page at ``/browser`` (the examples load it from a CDN).
"""
import os
import time

if os.environ.get("DEPLOY_PATCH") == "1":
    from gevent import monkey

    monkey.patch_all()

from flask import Flask, Response, jsonify  # noqa: E402

import siothread as socketio  # noqa: E402

_origins = os.environ.get("DEPLOY_ORIGINS")
sio = socketio.Server(async_mode=os.environ.get("DEPLOY_ASYNC_MODE") or None,
                      cors_allowed_origins=_origins.split(",") if _origins else None)
app = Flask(__name__)
app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app)
TICK = float(os.environ.get("DEPLOY_TICK", "10"))
thread = None


def background_thread():
    count = 0
    while True:
        sio.sleep(TICK)
        count += 1
        sio.emit("my_response", {"data": "Server generated event", "count": count})


@app.route("/")
def index():
    global thread
    if thread is None:
        thread = sio.start_background_task(background_thread)
    return "<!doctype html><title>deploy</title><p>deploy app</p>"


BROWSER_PAGE = """<!doctype html>
<title>deploy</title>
<ul id="log"></ul>
<script src="/client.js"></script>
<script>
const log = (text) => {
  const li = document.createElement("li");
  li.textContent = text;
  document.getElementById("log").appendChild(li);
};
const socket = io({ auth: { token: "browser" } });
socket.on("my_response", (msg) => log(msg.data));
socket.on("hello", (a, b, c) => log("hello " + a + " " + b + " " + c.auth.token));
socket.on("disconnect", (reason) => { log("disconnected: " + reason); window.finished = true; });
// on the engine's open, not on connect: a quick upgrade may finish before the CONNECT answer
socket.io.on("open", () => {
  socket.io.engine.once("upgrade", () => log("upgraded to " + socket.io.engine.transport.name));
});
socket.on("connect", () => {
  socket.emit("my_event", { data: "echo from the page" });
  socket.emit("join", { room: "page-room" });
  socket.emit("my_room_event", { data: "to the page's room", room: "page-room" });
  socket.emit("leave", { room: "page-room" });
  const t0 = performance.now();
  socket.emit("ping_from_client");
  socket.once("pong_from_server", () => {
    log("pong");
    const wait = () => socket.io.engine.transport.name === "websocket"
      ? socket.emit("disconnect_request") : setTimeout(wait, 20);
    wait();
  });
});
</script>
"""


@app.route("/browser")
def browser_page():
    return BROWSER_PAGE


@app.route("/client.js")
def client_js():
    with open(os.environ["DEPLOY_CLIENT_JS"], "rb") as f:
        return Response(f.read(), mimetype="application/javascript")


@app.route("/mode")
def mode():
    auto = sio.eio.auto_runtime  # async_mode=None without evidence at construction: decided at first use
    return jsonify(async_mode=sio.async_mode, pid=os.getpid(), resolved=auto and auto.mode,
                   resolved_by=auto and auto.resolved_by)


@sio.event
def my_event(sid, message):
    sio.emit("my_response", {"data": message["data"]}, room=sid)


@sio.event
def my_broadcast_event(sid, message):
    sio.emit("my_response", {"data": message["data"]})


@sio.event
def join(sid, message):
    sio.enter_room(sid, message["room"])
    sio.emit("my_response", {"data": "Entered room: " + message["room"]}, room=sid)


@sio.event
def leave(sid, message):
    sio.leave_room(sid, message["room"])
    sio.emit("my_response", {"data": "Left room: " + message["room"]}, room=sid)


@sio.event
def close_room(sid, message):
    sio.emit("my_response", {"data": "Room " + message["room"] + " is closing."}, room=message["room"])
    sio.close_room(message["room"])


@sio.event
def my_room_event(sid, message):
    sio.emit("my_response", {"data": message["data"]}, room=message["room"])


@sio.event
def disconnect_request(sid):
    sio.disconnect(sid)


@sio.event
def block(sid, seconds):
    """A handler that blocks its thread (a slow database call, say), then answers."""
    time.sleep(seconds)
    sio.emit("unblocked", room=sid)


@sio.event
def ping_from_client(sid):
    sio.emit("pong_from_server", room=sid)


@sio.event
def connect(sid, environ, auth):
    sio.emit("my_response", {"data": "Connected", "count": 0}, room=sid)
    sio.emit("hello", (1, 2, {"hello": "you", "auth": auth}), to=sid)


@sio.event
def disconnect(sid, reason):
    print("Client disconnected, reason:", reason, flush=True)
