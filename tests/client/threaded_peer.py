"""The client in a plain threaded program (no gevent monkey-patching), driven by test_threads.py.

Usage: python threaded_peer.py <mode> <url>
  scenario  connect, call, binary, receive, reconnect after drop_me, disconnect; prints a JSON report
  sigint    connect, print "ready", then wait() until SIGINT; prints a JSON report
  thread    create a Client in a non-main thread: the SIGINT handler must stay untouched
"""
import json
import signal
import sys
import threading
import time

from siothread.client import Client, SimpleClient


def scenario(url: str) -> dict:
    monkey = sys.modules.get("gevent.monkey")
    report: dict = {"gevent_patched": bool(monkey and monkey.is_module_patched("socket"))}
    events = []
    c = Client(handle_sigint=False, reconnection_delay=0.05, randomization_factor=0)
    c.on("connect", lambda: events.append("connect"))
    c.on("disconnect", lambda reason: events.append(reason))
    c.on("pushed", lambda *args: events.append(list(args)))
    c.connect(url, transports=["polling", "websocket"])
    report["transport"] = c.transport()
    report["echo"] = c.call("echo", "hi", timeout=5)
    report["binary"] = c.call("echo", b"\x00\x01", timeout=5) == b"\x00\x01"
    c.emit("emit_to_me", ("pushed", 1, 2))
    c.emit("drop_me")
    deadline = time.monotonic() + 5
    while events.count("connect") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    report["after_reconnect"] = c.call("echo", "again", timeout=5)
    c.disconnect()
    report["events"] = events
    with SimpleClient(handle_sigint=False) as sc:
        sc.connect(url)
        sc.emit("emit_to_me", ("simple", "x"))
        report["simple"] = sc.receive(timeout=5)
    time.sleep(0.2)
    report["threads"] = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
    return report


def sigint(url: str) -> dict:
    c = Client(reconnection=False)
    c.connect(url, transports=["websocket"])
    print("ready", flush=True)
    try:
        c.wait()
        outcome = "wait returned"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    return {"outcome": outcome, "connected": c.connected,
            "threads": sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())}


def in_thread() -> dict:
    before = signal.getsignal(signal.SIGINT)
    box = []
    t = threading.Thread(target=lambda: box.append(Client(handle_sigint=True)))
    t.start()
    t.join()
    return {"unchanged": signal.getsignal(signal.SIGINT) is before}


if __name__ == "__main__":
    mode, url = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    result = {"scenario": scenario, "sigint": sigint}.get(mode, lambda _u: in_thread())(url)
    print(json.dumps(result), flush=True)
