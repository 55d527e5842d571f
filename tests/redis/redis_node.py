"""A siothread node of a Redis cluster, driven over stdin/stdout (one JSON command per line).

Usage: ``python redis_node.py '{"url": ..., "sharded": false, ...}'``. Prints
``{"port": N}`` once serving, then answers each ``{"id", "op", ...}`` line with
``{"id", "result"}`` or ``{"id", "error"}``; the same commands as
``tests/js/redis_node.js``, so tests drive both kinds of node alike.

Server behaviour: a client's ``auth`` ``{"name": n}`` is saved in its session
(``data``); event ``join`` enters a room and acks ``"ok"``; event ``shout`` broadcasts ``echo``; server-side event
``ping`` answers ``"py:<arg>"`` and records it (op ``heard``).
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectThread  # noqa: E402

import siothread  # noqa: E402


def build(options):
    kind = options.pop("kind", "classic")
    url = options.pop("url")
    recovery = options.pop("recovery", None)
    if kind == "sharded":
        manager = siothread.ShardedRedisManager(url, **options)
    elif kind == "streams":
        manager = siothread.RedisStreamsManager(url, **options)
    else:
        manager = siothread.RedisManager(url, **options)
    sio = siothread.Server(client_manager=manager, cors_allowed_origins="*", recovery=recovery)
    heard = []

    @sio.event
    def connect(sid, environ, auth):
        if isinstance(auth, dict) and "name" in auth:
            sio.get_session(sid)["name"] = auth["name"]

    @sio.on("join")
    def join(sid, room):
        sio.enter_room(sid, room)
        return "ok"

    @sio.on("shout")
    def shout(sid, arg):
        sio.emit("echo", arg)

    @sio.on_server_event("ping")
    def ping(arg=None):
        heard.append(arg)
        return f"py:{arg}"

    return sio, heard


def run(sio, heard, cmd):
    op = cmd["op"]
    ns = cmd.get("nsp", "/")
    target = sio.of(ns)
    if cmd.get("to") is not None:
        target = target.to(cmd["to"])
    if cmd.get("except") is not None:
        target = target.except_(cmd["except"])
    if cmd.get("volatile"):
        target = target.volatile
    if cmd.get("local"):
        target = target.local
    if op == "emit":
        target.emit(cmd["event"], *cmd.get("args", []))
        return True
    if op == "emit_many":
        for i in range(cmd["count"]):
            target.emit(cmd["event"], i)
            gevent.sleep(cmd.get("pause", 0))
        return True
    if op == "call":
        result = target.timeout(cmd.get("timeout", 2)).call(cmd["event"], *cmd.get("args", []))
        return {"responses": result.responses, "timed_out": sorted(result.timed_out),
                "values": sorted(map(json.dumps, result.values()))}
    if op == "fetch":
        return sorted(({"id": s.id, "rooms": sorted(s.rooms), "data": s.data} for s in target.fetch_sockets()),
                      key=lambda s: s["id"])
    if op == "remote_emit":
        for s in target.fetch_sockets():
            if s.id == cmd["sid"]:
                s.emit(cmd["event"], *cmd.get("args", []))
                return True
        return False
    if op == "join":
        target.sockets_join(cmd["rooms"])
        return True
    if op == "leave":
        target.sockets_leave(cmd["rooms"])
        return True
    if op == "disconnect":
        target.disconnect_sockets(cmd.get("close", False))
        return True
    if op == "sse":
        if not cmd.get("ack"):
            sio.server_side_emit(cmd["event"], cmd.get("args", [None])[0], namespace=ns)
            return True
        result = gevent.event.AsyncResult()
        sio.server_side_emit(cmd["event"], cmd.get("args", [None])[0], namespace=ns, callback=result.set)
        return sorted(map(json.dumps, result.get(timeout=10)))
    if op == "count":
        return sio.manager.server_count()
    if op == "heard":
        return heard
    if op == "status":
        return sio.manager.status()
    if op == "recovered":
        return sio.is_recovered(cmd["sid"], ns) if sio.manager.is_connected(ns, cmd["sid"]) else None
    if op == "rooms":
        return sorted(sio.manager.get_rooms(ns, cmd["sid"]))
    raise ValueError(f"unknown op {op}")


def main():
    options = json.loads(sys.argv[1])
    sio, heard = build(options)
    app = siothread.WSGIApp(sio)
    server = siothread.make_server(app, "127.0.0.1", 0)
    server.start()
    out = sys.stdout
    out.write(json.dumps({"port": server.server_port}) + "\n")
    out.flush()
    stdin = FileObjectThread(sys.stdin)

    def handle(line):
        cmd = json.loads(line)
        try:
            reply = {"id": cmd["id"], "result": run(sio, heard, cmd)}
        except Exception as exc:  # reported to the test
            reply = {"id": cmd["id"], "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()

    for line in stdin:
        if not line.strip():
            break
        gevent.spawn(handle, line)
    sio.shutdown(timeout=2)
    server.stop(timeout=1)


if __name__ == "__main__":
    main()
