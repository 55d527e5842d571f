"""Several worker processes: how siothread scales with workers, and what a hand-off costs.

    .venv/bin/python -m benchmarks.workers                 # ~3 minutes
    .venv/bin/python -m benchmarks.workers --write-docs    # also rewrite the block in docs/benchmarks.md
    .venv/bin/python -m benchmarks.workers --smoke --duration 0.5   # tiny sizes (tests/benchmarks)

1. **Workers** (``siothread.serve(app, workers=N)``, N = 1 and 2): the ``echo``
   (100 WebSocket clients) and ``broadcast`` (1000 clients in one room, 64
   broadcasts in flight) scenarios of :mod:`benchmarks.run`, with the same load
   generator. Nothing is pinned: on a 2-core machine the generator cannot have a
   core of its own, so the workers and the generator share both cores; the rows
   show the CPU each side used (the server's summed over its processes). With 2
   workers the clients' connections are spread by the kernel, and a broadcast
   reaches the other worker's room members through the worker adapter. The same
   for Node (``servers/node_cluster.js``): ``@socket.io/sticky`` in the primary
   process passes every connection to a worker, ``@socket.io/cluster-adapter``
   links the workers.
2. **Hand-off cost**: two workers in one process (``servers/siothread_pair.py``),
   sessions held by worker B, long-polling echo round trips (POST the event, GET
   the echo) from a gevent client in this process: on a fresh connection per
   request sent to B itself, the same sent to A (every request is handed to B:
   two hand-offs per round trip), keep-alive connections to A (one hand-off per
   connection, then B serves them directly), and the same over TLS with
   keep-alive connections (A relays the decrypted bytes to B). The server's CPU
   per round trip is the cost; the difference to the sticky row is what the
   hand-off adds.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from . import run as R

BEGIN, END = "<!-- workers-results:begin -->", "<!-- workers-results:end -->"
CERTS = R.ROOT / "tests" / "client" / "certs"


# ------------------------------------------------------------------ 1. workers
def _children(pid: int) -> List[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


SERVERS = {
    "siothread": R.SERVERS["siothread"]["cmd"],
    # @socket.io/sticky in the primary process + @socket.io/cluster-adapter among the workers
    "node": ["node", str(R.BENCH / "servers" / "node_cluster.js")],
}


def scale(server: str, workers: int, scenario: str, duration: float, smoke: bool = False) -> Dict[str, Any]:
    name = f"{server}-w{workers}"
    R.SERVERS.setdefault(name, {"cmd": SERVERS[server] + ["--workers", str(workers)], "skip": set()})
    cfg = dict(R.SCENARIOS[scenario]["gen"], duration=duration, warmup=0.2 if smoke else 1.0)
    if smoke:
        cfg.update(R.PROFILES["smoke"]["override"][scenario])
    with R.server_process(name, None) as (pid, port):
        time.sleep(1.0)  # the workers start after the master listens
        pids = [pid] + _children(pid)
        if (workers > 1 or server == "node") and len(pids) != workers + 1:
            raise R.BenchmarkError(f"expected {workers} workers, found {pids[1:]}")
        return R.run_loadgen(port, pid, dict(cfg, serverPids=pids), None)


# --------------------------------------------------------------- 2. hand-off
@contextmanager
def pair(tls: bool) -> Iterator[Tuple[int, int, int]]:
    """The two-worker process: (pid, port of A, port of B)."""
    a, b = R.free_port(), R.free_port()
    cmd = [R.PY, str(R.BENCH / "servers" / "siothread_pair.py"), "--port", str(a), "--port-b", str(b)]
    if tls:
        cmd += ["--certfile", str(CERTS / "cert.pem"), "--keyfile", str(CERTS / "key.pem")]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=str(R.ROOT), stdout=log, stderr=log, start_new_session=bool(R.NICE[0]))
        R.boost(proc.pid)
        try:
            deadline = time.monotonic() + 20
            while True:
                log.seek(0)
                if b"serving on" in log.read():
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise R.BenchmarkError(f"pair server did not start: {log.read()[-2000:]!r}")
                time.sleep(0.05)
            yield proc.pid, a, b
        finally:
            proc.kill()
            proc.wait()


def _cpu(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def polling_round_trips(target: int, owner: int, tls: bool, fresh: bool, clients: int,
                        duration: float, pid: int) -> Dict[str, Any]:
    """Closed-loop long-polling echo: sessions made at ``owner``, every request sent to ``target``."""
    code = _CLIENT % dict(target=target, owner=owner, tls=tls, fresh=fresh, clients=clients, duration=duration)
    proc = subprocess.Popen([R.PY, "-c", code], cwd=str(R.ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=bool(R.NICE[0]))
    R.boost(proc.pid)
    line = proc.stdout.readline()  # "ready": the sessions exist, the window starts
    if not line.startswith("ready"):
        proc.kill()
        raise R.BenchmarkError(f"polling client failed: {line} {proc.stderr.read()[-2000:]}")
    cpu0, t0 = _cpu(pid), time.monotonic()
    out, err = proc.communicate(timeout=duration + 60)
    cpu1, t1 = _cpu(pid), time.monotonic()
    try:
        result: Dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise R.BenchmarkError(f"polling client failed: {out} {err[-2000:]}") from None
    result["server_cpu"] = (cpu1 - cpu0) / (t1 - t0)
    result["us_per_rt"] = (cpu1 - cpu0) / result["round_trips"] * 1e6 if result["round_trips"] else None
    return result


# The polling client: its own process (gevent), so that its CPU is not the server's.
_CLIENT = r'''
from gevent import monkey; monkey.patch_all()
import json, socket, ssl, sys, time, gevent
TARGET, OWNER, TLS, FRESH, CLIENTS, DURATION = %(target)d, %(owner)d, %(tls)r, %(fresh)r, %(clients)d, %(duration)r
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

def connect(port):
    s = socket.socket(); s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(s) if TLS else s

def request(conn, port, method, target, body=b""):
    close = conn is None
    if close:
        conn = connect(port)
    conn.sendall(("%%s %%s HTTP/1.1\r\nHost: x\r\nContent-Length: %%d\r\n%%s\r\n" %% (
        method, target, len(body), "Connection: close\r\n" if close else "")).encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(rest) < n:
        rest += conn.recv(65536)
    if close:
        conn.close()
    return rest

def session():
    body = request(None, OWNER, "GET", "/socket.io/?EIO=4&transport=polling")
    sid = json.loads(body[1:])["sid"]
    q = "/socket.io/?EIO=4&transport=polling&sid=" + sid
    request(None, OWNER, "POST", q, b"40")
    request(None, OWNER, "GET", q)  # the CONNECT answer
    return q

queries = [session() for _ in range(CLIENTS)]
count = [0]
stop = [False]

def client(q):
    post = get = None
    if not FRESH:
        post, get = connect(TARGET), connect(TARGET)
    while not stop[0]:
        assert request(post, TARGET, "POST", q, b'42["echo","0123456789abcdef"]') == b"ok"
        body = request(get, TARGET, "GET", q)
        if b"echo" in body:
            count[0] += 1

print("ready", flush=True)
start = time.monotonic()
greenlets = [gevent.spawn(client, q) for q in queries]
gevent.sleep(DURATION)
stop[0] = True
elapsed = time.monotonic() - start
gevent.joinall(greenlets, timeout=5)
print(json.dumps({"round_trips": count[0], "rate": count[0] / elapsed}))
'''

HANDOFF_ROWS = [
    # (label, tls, fresh, to the other worker)
    ("fresh connection per request, to the owner (sticky)", False, True, False),
    ("fresh connection per request, to the other worker (2 hand-offs per round trip)", False, True, True),
    ("keep-alive, to the owner (sticky)", False, False, False),
    ("keep-alive, to the other worker (1 hand-off per connection)", False, False, True),
    ("TLS keep-alive, to the owner (sticky)", True, False, False),
    ("TLS keep-alive, to the other worker (relayed)", True, False, True),
]


def handoff_costs(duration: float, clients: int) -> List[Dict[str, Any]]:
    rows = []
    for label, tls, fresh, wrong in HANDOFF_ROWS:
        with pair(tls) as (pid, a, b):
            result = polling_round_trips(a if wrong else b, b, tls, fresh, clients, duration, pid)
        rows.append(dict(result, label=label))
    return rows


# -------------------------------------------------------------------- report
def render(scaled: Dict[Tuple[str, str, int], Dict[str, Any]], handoffs: List[Dict[str, Any]]) -> str:
    out = ["| server | scenario | workers | rate | server CPU (all processes) | generator CPU | 2 workers / 1 |",
           "|---|---|---|---|---|---|---|"]
    for server in ("siothread", "node"):
        for scenario in ("echo", "broadcast"):
            one = scaled.get((server, scenario, 1), {}).get("rate")
            for workers in (1, 2):
                r = scaled.get((server, scenario, workers))
                if r is None:
                    continue
                label = "siothread" if server == "siothread" else "Node (sticky + cluster-adapter)"
                if r.get("errors"):
                    out.append(f"| {label} | {scenario} | {workers} | error: {r['errors'][0][:80]} | | | |")
                    continue
                ratio = f"{r['rate'] / one:.2f}x" if workers == 2 and one and r.get("rate") else ""
                out.append(f"| {label} | {scenario} | {workers} | {R.fmt(r.get('rate'))}/s | "
                           f"{r.get('server_cpu') or 0:.2f} cores | {r.get('gen_cpu') or 0:.2f} cores | {ratio} |")
    out += ["", "| long-polling echo, 20 clients | round trips/s | server CPU | server CPU per round trip |",
            "|---|---|---|---|"]
    for row in handoffs:
        per = f"{row['us_per_rt']:.0f} us" if row.get("us_per_rt") else "-"
        out.append(f"| {row['label']} | {row['rate']:.0f} | {row['server_cpu']:.2f} cores | {per} |")
    return "\n".join(out)


def environment() -> str:
    import platform

    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    import gevent

    return (f"{os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}, "
            f"gevent {gevent.__version__}, Node {node}")


def write_docs(block: str) -> None:
    text = R.DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + "\n" + block + "\n" + END + rest.split(END, 1)[1]
    else:
        text += f"\n{BEGIN}\n{block}\n{END}\n"
    R.DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only check that numbers come out")
    parser.add_argument("--nice", type=int, default=-15 if os.geteuid() == 0 else 0,
                        help="niceness of servers and generators (as in benchmarks.run)")
    args = parser.parse_args()
    R.NICE[0] = args.nice
    why = R.server_unavailable("siothread")
    if why:
        sys.exit(why)
    scaled: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    if not args.skip_scaling:
        servers = ["siothread"] + ([] if R.server_unavailable("node") else ["node"])
        for server in servers:
            for scenario in ("echo", "broadcast"):
                for workers in (1, 2):
                    r = scaled[(server, scenario, workers)] = scale(server, workers, scenario, args.duration,
                                                                     args.smoke)
                    print(server, scenario, workers, {k: r.get(k) for k in ("rate", "server_cpu", "gen_cpu",
                                                                             "errors")}, flush=True)
    handoffs = handoff_costs(args.duration, 2 if args.smoke else 20)
    errors = [e for r in scaled.values() for e in r.get("errors", [])]
    errors += [row["label"] for row in handoffs if not row.get("round_trips")]
    block = (f"Measured {datetime.date.today()} on: {environment()}.\n\n"
             f"Command: `python -m benchmarks.workers{' --write-docs' if args.write_docs else ''}`\n\n"
             + render(scaled, handoffs))
    print(block)
    if args.write_docs and not args.smoke:
        write_docs(block)
    if errors:
        sys.exit(f"errors: {errors}")


if __name__ == "__main__":
    main()
