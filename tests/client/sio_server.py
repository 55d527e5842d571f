"""The siothread twin of ``tests/js/node_server.js`` for the client tests.

Usage: python sio_server.py '<json options>' with the options and events of
node_server.js (see there). Prints {"port": N} once listening; exits
when stdin closes. ``never_ack`` has no handler on purpose: siothread answers
an ack for every handled event, and sends none for an unhandled one.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict  # noqa: E402

import gevent  # noqa: E402

import siothread  # noqa: E402
from siothread.errors import ConnectionRefusedError  # noqa: E402
from siothread.server.server import Server  # noqa: E402


def build(opts: Dict[str, Any]) -> Server:
    namespaces = opts.get("namespaces", ["/"])
    kwargs: Dict[str, Any] = dict(
        namespaces=list(namespaces),
        ping_interval=opts.get("pingInterval", 25000) / 1000.0,
        ping_timeout=opts.get("pingTimeout", 20000) / 1000.0,
        max_http_buffer_size=10_000_000,
        transports=tuple(opts.get("transports", ("polling", "websocket"))),
    )
    if opts.get("parser") == "msgpack":
        kwargs["serializer"] = "msgpack"
    if opts.get("recovery"):
        kwargs["recovery"] = {"max_disconnection_duration": 60, "skip_middlewares": True}
    sio = Server(**kwargs)
    for ns in namespaces:
        register(sio, ns, opts)
    return sio


def register(sio: Server, ns: str, opts: Dict[str, Any]) -> None:
    token = opts.get("token")

    def on(event: str) -> Any:
        return sio.on(event, namespace=ns)

    @on("connect")
    def connect(sid: str, environ: Dict[str, Any], auth: Any) -> None:
        if token is not None:
            got = auth.get("token") if isinstance(auth, dict) else None
            if got != token:
                raise ConnectionRefusedError("unauthorized", {"reason": "bad token", "got": got})
        sio.save_session(sid, {"auth": auth if auth is not None else {}}, namespace=ns)

    @on("echo")
    def echo(sid: str, *args: Any) -> Any:
        return tuple(args)

    @on("whoami")
    def whoami(sid: str) -> Any:
        environ = sio.get_environ(sid, namespace=ns) or {}
        query = {}
        for part in environ.get("QUERY_STRING", "").split("&"):
            if "=" in part:
                key, _, value = part.partition("=")
                query[key] = value
        return {
            "sid": sid,
            # One Engine.IO session has one handshake environ, shared by its namespaces.
            "conn": str(id(environ)),
            "recovered": sio.is_recovered(sid, namespace=ns),
            "auth": sio.get_session(sid, namespace=ns).get("auth"),
            "query": query,
            "header": environ.get("HTTP_X_TEST_HEADER"),
            "transport": sio.transport(sid, namespace=ns),
            "nsp": ns,
        }

    @on("message")
    def message(sid: str, *args: Any) -> None:
        sio.emit("message", tuple(args), to=sid, namespace=ns)

    @on("join")
    def join(sid: str, data: Any) -> Any:
        name = data.get("name") if isinstance(data, dict) and isinstance(data.get("name"), str) else "anonymous"
        sio.get_session(sid, namespace=ns)["name"] = name
        sio.emit("message", {"name": "server", "text": f"{name} joined"}, namespace=ns)
        return {"members": len(sio.fetch_sockets(namespace=ns))}

    @on("chat message")
    def chat_message(sid: str, data: Any) -> Any:
        text = data.get("text") if isinstance(data, dict) and isinstance(data.get("text"), str) else ""
        name = sio.get_session(sid, namespace=ns).get("name", "anonymous")
        sio.emit("message", {"name": name, "text": text}, namespace=ns)
        return {"ok": True}

    @on("emit_to_me")
    def emit_to_me(sid: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), to=sid, namespace=ns)

    @on("call_me")
    def call_me(sid: str, event: str, args: Any) -> Any:
        try:
            answer = sio.call(event, tuple(args), to=sid, namespace=ns, timeout=5)
        except Exception as exc:
            return {"error": str(exc)}
        if isinstance(answer, tuple):
            answer = answer[0] if answer else None
        return ([answer],)

    @on("drop_me")
    def drop_me(sid: str, missed: Any = 0) -> None:
        # Close the Engine.IO session only, like Node's socket.conn.close(): no
        # Socket.IO DISCONNECT first (that would tell the client not to reconnect).
        # The server API has no sid -> Engine.IO sid lookup, hence the private access.
        sio.eio.disconnect(sio._socket(sid).eio_sid, "forced close")
        for i in range(missed or 0):
            sio.emit("missed", i, to=sid, namespace=ns)

    @on("server_disconnect")
    def server_disconnect(sid: str) -> None:
        sio.disconnect(sid, namespace=ns)

    @on("freeze")
    def freeze(sid: str, ms: int) -> None:
        end = time.monotonic() + ms / 1000.0
        while time.monotonic() < end:
            pass  # busy wait: the hub does not run, heartbeats stop

    @on("broadcast")
    def broadcast(sid: str, event: str, *args: Any) -> None:
        sio.emit(event, tuple(args), namespace=ns)


def main() -> None:
    opts = json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")
    sio = build(opts)
    path = opts.get("path", "/socket.io")
    app = siothread.WSGIApp(sio, socketio_path=path)
    ssl_args: Dict[str, Any] = {}
    if opts.get("tls"):
        ssl_args = {"keyfile": opts["tls"]["key"], "certfile": opts["tls"]["cert"]}
    server = siothread.make_server(app, "127.0.0.1", opts.get("port", 0), **ssl_args)
    server.start()
    print(json.dumps({"port": server.server_port}), flush=True)
    # Block until the test runner closes our stdin (read in a thread: pipes do not cooperate).
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop(1)


if __name__ == "__main__":
    main()
