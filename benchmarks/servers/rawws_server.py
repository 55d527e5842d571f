"""Raw gevent-websocket echo (no Engine.IO / Socket.IO), the reference of issue 5.

It answers just enough of the handshake for the load generator (an open packet,
the namespace CONNECT) and otherwise handles frames with string prefix checks:
`42["join"...` joins the room, `42["broadcast"...` is re-sent verbatim to the
room, `42<id>["ack",...` is answered with `43<id>[...]`, anything else (text or
binary) is echoed verbatim. No heartbeat, no polling.
"""
from gevent import monkey

monkey.patch_all()

from gevent import pywsgi  # noqa: E402
from geventwebsocket.exceptions import WebSocketError  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

from _common import parse_args, start_watchdog  # noqa: E402

OPEN = '0{"sid":"raw","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":10000000}'
ROOM: set = set()


def app(environ, start_response):
    ws = environ.get("wsgi.websocket")
    if ws is None:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"websocket only"]
    try:
        ws.send(OPEN)
        while True:
            msg = ws.receive()
            if msg is None:
                break
            if not isinstance(msg, str):
                ws.send(msg, binary=True)
                continue
            if msg == "40":
                ws.send('40{"sid":"raw"}')
            elif msg.startswith("42"):
                i = msg.find("[")
                ack_id, rest = msg[2:i], msg[i + 1:]
                if rest.startswith('"broadcast"'):
                    for peer in list(ROOM):
                        try:
                            peer.send(msg)
                        except WebSocketError:
                            ROOM.discard(peer)
                elif rest.startswith('"join"'):
                    ROOM.add(ws)
                    if ack_id:
                        ws.send("43" + ack_id + "[]")
                elif rest.startswith('"ack"') and ack_id:
                    tail = rest[5:]
                    ws.send("43" + ack_id + "[" + (tail[1:] if tail.startswith(",") else tail))
                else:
                    ws.send(msg)
            elif not msg.startswith("3"):
                ws.send(msg)
    except WebSocketError:
        pass
    finally:
        ROOM.discard(ws)
    return []


def main() -> None:
    args = parse_args(__doc__)
    start_watchdog(args.max_seconds)
    pywsgi.WSGIServer((args.host, args.port), app, handler_class=WebSocketHandler, log=None).serve_forever()


if __name__ == "__main__":
    main()
