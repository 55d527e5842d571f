"""Join the chat example from a script and print what is said.

Start the chat server (scripts/demo.sh, or ``python examples/chat_wsgi.py``), then:

    python examples/client_script.py --name ann --say "hello from a script"

Events (those of examples/chat_wsgi.py):
  emits  "join" {"name": str}          -> ack {"members": int}
  emits  "chat message" {"text": str}  -> ack {"ok": bool}   (each --say, then each stdin line with --stdin)
  prints "message" {"name": str, "text": str} as "name: text"

Runs until Ctrl+C (or for --seconds); reconnects by itself if the server restarts.
"""
import argparse
import sys
import threading

import siothread.client
import siothread.errors


_print_lock = threading.Lock()


def say(line: str) -> None:
    """Print one whole line: handlers run on the client's thread, next to the main one."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--name", default="script")
    parser.add_argument("--say", action="append", default=[], help="a message to send after joining")
    parser.add_argument("--stdin", action="store_true", help="also send each line read from stdin")
    parser.add_argument("--seconds", type=float, default=None, help="leave after this many seconds")
    parser.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    args = parser.parse_args()

    client = siothread.client.Client(ssl_verify=not args.insecure)

    @client.event
    def connect():
        say(f"* connected as {args.name} ({client.transport()})")

    @client.event
    def disconnect(reason):
        say(f"* disconnected: {reason}")

    @client.on("message")
    def message(data):
        if isinstance(data, dict):
            say(f"{data.get('name')}: {data.get('text')}")

    try:
        client.connect(args.url, retry=True)
    except siothread.errors.ConnectionError as exc:
        print(f"cannot connect to {args.url}: {exc}", file=sys.stderr)
        return 1
    try:
        joined = client.call("join", {"name": args.name}, timeout=10)
        if isinstance(joined, dict):
            say(f"* {joined.get('members')} member(s) in the room")
        for text in args.say:
            client.call("chat message", {"text": text}, timeout=10)
        if args.stdin:
            for line in sys.stdin:
                if line.strip():
                    client.call("chat message", {"text": line.rstrip("\n")}, timeout=10)
        if args.seconds is not None:
            threading.Timer(args.seconds, client.disconnect).start()
        client.wait()
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
