"""Cross-node broadcast over one Redis: siothread vs python-socketio's RedisManager vs Node's redis-adapter.

    .venv/bin/python -m benchmarks.redis_cluster.run            # 3 repeats
    .venv/bin/python -m benchmarks.redis_cluster.run --quick    # 1 repeat, smaller

For each stack: a fresh redis-server, node A and node B (each its own process),
``clients`` raw WebSocket Socket.IO receivers on B and one trigger connection on A
(``receivers.js``). Two measurements per repeat:

- throughput: A broadcasts ``count`` ticks as fast as it can; deliveries/s is
  the deliveries on B over the time from the trigger to the last delivery;
- latency: A broadcasts ``rate`` ticks per second for a few seconds (well below
  every stack's limit); p50/p99 of publish-to-delivery (clocks of one machine).

On a 2-core machine the two nodes, Redis and the receivers share the cores, so
the numbers compare stacks under the same squeeze; they are not capacity figures.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
STACKS = {
    "siothread": lambda port, url: [sys.executable, str(HERE / "py_node.py"), "siothread", str(port), url],
    "python-socketio": lambda port, url: [sys.executable, str(HERE / "py_node.py"), "python-socketio", str(port),
                                          url],
    "node": lambda port, url: ["node", str(HERE / "node_node.js"), str(port), url],
    # the Redis Streams adapter (siothread.RedisStreamsManager, @socket.io/redis-streams-adapter)
    "siothread-streams": lambda port, url: [sys.executable, str(HERE / "py_node.py"), "siothread-streams",
                                            str(port), url],
    "siothread-streams-recovery": lambda port, url: [sys.executable, str(HERE / "py_node.py"),
                                                     "siothread-streams-recovery", str(port), url],
    "node-streams": lambda port, url: ["node", str(HERE / "node_node.js"), str(port), url, "streams"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_stack(stack: str, clients: int, count: int, rate: int, seconds: float) -> Dict[str, Any]:
    rport = free_port()
    tmp = tempfile.mkdtemp()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    procs = [redis]
    try:
        wait_port(rport)
        url = f"redis://127.0.0.1:{rport}/0"
        ports = [free_port(), free_port()]
        for port in ports:
            procs.append(subprocess.Popen(STACKS[stack](port, url), stdout=subprocess.DEVNULL))
        for port in ports:
            wait_port(port)
        time.sleep(1.0)
        out = {}
        for name, spec in (("throughput", {"count": count, "rate": 0}),
                           ("latency", {"count": int(rate * seconds), "rate": rate})):
            cfg = {"a": f"http://127.0.0.1:{ports[0]}", "b": f"http://127.0.0.1:{ports[1]}", "clients": clients,
                   **spec, "timeout": 60000}
            cpu = [cpu_seconds(p.pid) for p in procs[1:]]
            res = subprocess.run(["node", str(HERE / "receivers.js"), json.dumps(cfg)], capture_output=True,
                                 text=True, timeout=120)
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
            out[name] = json.loads(res.stdout.strip().splitlines()[-1])
            # CPU of the sending node A and the receiving node B over the whole measurement
            # (connections included): what each delivery costs the servers, whatever the receivers can take
            out[name]["cpu_a"], out[name]["cpu_b"] = (cpu_seconds(p.pid) - c for p, c in zip(procs[1:], cpu))
        return out
    finally:
        for proc in reversed(procs):  # the nodes first, Redis last
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stacks", default=",".join(STACKS))
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args(argv)
    repeats, count, rate, seconds = (1, 300, 50, 2.0) if args.quick else (3, 3000, 50, 4.0)
    summary = {}
    for stack in args.stacks.split(","):
        runs = [run_stack(stack, args.clients, count, rate, seconds) for _ in range(repeats)]
        summary[stack] = {
            "deliveries_per_s": statistics.median(r["throughput"]["rate"] for r in runs),
            "complete": all(r["throughput"]["received"] == r["throughput"]["expected"] for r in runs),
            "us_per_delivery_b": statistics.median(
                1e6 * r["throughput"]["cpu_b"] / max(1, r["throughput"]["received"]) for r in runs),
            "us_per_delivery_a_b": statistics.median(
                1e6 * (r["throughput"]["cpu_a"] + r["throughput"]["cpu_b"]) / max(1, r["throughput"]["received"])
                for r in runs),
            "p50_ms": statistics.median(r["latency"]["p50"] for r in runs),  # the paced run only
            "p99_ms": statistics.median(r["latency"]["p99"] for r in runs),
            "runs": runs,
        }
        s = summary[stack]
        print(f"{stack:16} {s['deliveries_per_s']:10.0f} deliveries/s  node B {s['us_per_delivery_b']:.2f} us CPU "
              f"per delivery (A+B {s['us_per_delivery_a_b']:.2f})  p50 {s['p50_ms']:.1f} ms  "
              f"p99 {s['p99_ms']:.1f} ms  complete={s['complete']}", flush=True)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in summary.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
