"""Benchmark driver: every server x scenario, pinned cores, repeats, medians and ratios.

    .venv/bin/python -m benchmarks.run                      # full run, 3 repeats
    .venv/bin/python -m benchmarks.run --quick              # shorter, 1 repeat
    .venv/bin/python -m benchmarks.run --servers python-socketio,node --scenarios echo,broadcast
    .venv/bin/python -m benchmarks.run --write-docs         # also rewrite the table in docs/benchmarks.md
    .venv/bin/python -m benchmarks.run --quick --servers siothread,siothread-metrics --scenarios echo
                                                            # what siothread.metrics costs when attached

Each run starts a fresh server process on a free 127.0.0.1 port pinned to one
core (``taskset``), runs the raw-protocol load generator (benchmarks/loadgen.js,
Node, no npm dependency) pinned to the other core, reads its one-line JSON
result and stops the server by PID. The generator reports its own CPU and the
server's over the measured window, so a row where the server is not near 100 %
or the generator is near its core is visible as such.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from contextlib import contextmanager

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
LOADGEN = BENCH / "loadgen.js"
DOC = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
BEGIN, END = "<!-- benchmark-results:begin -->", "<!-- benchmark-results:end -->"

SERVERS: Dict[str, Dict[str, Any]] = {
    "siothread": {"cmd": [PY, str(BENCH / "servers" / "siothread_server.py")], "skip": set()},
    "python-socketio": {"cmd": [PY, str(BENCH / "servers" / "psio_server.py")], "skip": set()},
    "node": {"cmd": ["node", str(BENCH / "servers" / "node_server.js")], "skip": set()},
    "gevent-websocket": {"cmd": [PY, str(BENCH / "servers" / "rawws_server.py")], "skip": {"polling"}},
    # siothread with siothread.metrics attached: what counting costs (not in the default set)
    "siothread-metrics": {"cmd": [PY, str(BENCH / "servers" / "siothread_server.py"), "--metrics"], "skip": set(),
                          "optional": True},
}
SERVER_TITLES = {
    "siothread": "siothread",
    "python-socketio": "python-socketio 5 + gevent-websocket",
    "node": "Node socket.io 4.8",
    "gevent-websocket": "raw gevent-websocket echo",
    "siothread-metrics": "siothread + metrics",
}

# metric: key of the load generator's result; higher: whether more is better.
SCENARIOS: Dict[str, Dict[str, Any]] = {
    "echo": {"title": "echo round trips/s, 100 clients", "metric": "rate", "higher": True, "latency": True,
             "gen": {"scenario": "echo", "clients": 100, "size": 16}},
    "broadcast": {"title": "broadcast deliveries/s, 1000 clients in a room", "metric": "rate", "higher": True,
                  "gen": {"scenario": "broadcast", "clients": 1000, "window": 64}},
    "memory": {"title": "memory per idle WebSocket connection (KiB, 5k clients)", "metric": "value",
               "higher": False, "gen": {"scenario": "memory", "clients": 5000, "settle": 2}},
    "polling": {"title": "long-polling echo round trips/s, 50 clients", "metric": "rate", "higher": True,
                "latency": True, "gen": {"scenario": "polling", "clients": 50, "size": 16}},
    "big1m": {"title": "1 MB binary message echo (MB/s), 4 clients", "metric": "mb_per_s", "higher": True,
              "gen": {"scenario": "big", "clients": 4, "size": 1 << 20, "binary": True}},
    "connect": {"title": "new connections/s (5k, 50 in flight)", "metric": "rate", "higher": True,
                "latency": True, "gen": {"scenario": "connect", "total": 5000, "concurrency": 50}},
    "ack": {"title": "ack round trips/s, 100 clients", "metric": "rate", "higher": True, "latency": True,
            "gen": {"scenario": "ack", "clients": 100, "size": 16}},
    "big100k": {"title": "100 KB text message echo (MB/s), 10 clients", "metric": "mb_per_s", "higher": True,
                "latency": True, "gen": {"scenario": "big", "clients": 10, "size": 100 * 1024}},
}

# Issue 5's targets for siothread, as ratios to python-socketio in the same run.
TARGETS: List[Tuple[str, str, str, float]] = [
    ("echo round trips/s", "echo", ">=", 3.0),
    ("broadcast deliveries/s", "broadcast", ">=", 2.5),
    ("memory per idle connection", "memory", "<=", 0.35),
    ("long-polling round trips/s", "polling", ">=", 10.0),
    ("1 MB messages", "big1m", ">=", 20.0),
    ("connection rate", "connect", ">=", 1.7),
    ("echo p99 latency", "echo:p99", "<=", 1 / 3),
]

PROFILES: Dict[str, Dict[str, Any]] = {
    "full": {"duration": 5.0, "warmup": 1.0, "repeat": 3},
    "quick": {"duration": 2.0, "warmup": 0.5, "repeat": 1,
              "override": {"memory": {"clients": 2000}, "connect": {"total": 2000}}},
    "smoke": {"duration": 0.5, "warmup": 0.2, "repeat": 1, "override": {
        "echo": {"clients": 3}, "ack": {"clients": 3}, "broadcast": {"clients": 5, "window": 2},
        "memory": {"clients": 5, "settle": 0.2}, "polling": {"clients": 2},
        "big1m": {"clients": 1, "size": 128 * 1024}, "big100k": {"clients": 2},
        "connect": {"total": 20, "concurrency": 5}}},
}


class BenchmarkError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NICE = [0]  # scheduling niceness of servers and generator; set by --nice


def pin(core: Optional[int]) -> List[str]:
    """Command prefix: pinned to ``core`` (taskset), at the chosen niceness."""
    prefix = []
    if NICE[0] and shutil.which("nice"):
        prefix += ["nice", "-n", str(NICE[0])]
    if core is not None and shutil.which("taskset"):
        prefix += ["taskset", "-c", str(core)]
    return prefix


def server_unavailable(name: str) -> Optional[str]:
    """Why a server cannot run here, or None."""
    if shutil.which("node") is None:
        return "node not found (the load generator and the Node server need Node.js 20)"
    if name == "node" and not (ROOT / "tests" / "js" / "node_modules" / "socket.io").is_dir():
        return "tests/js/node_modules missing: run `npm ci` in tests/js"
    if name == "siothread":
        probe = subprocess.run(
            [PY, "-c", "import siothread; siothread.Server; siothread.WSGIApp; siothread.serve"],
            capture_output=True, text=True, cwd=str(ROOT))
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            return f"siothread.Server / WSGIApp / serve not importable yet ({last})"
    return None


@contextmanager
def server_process(name: str, core: Optional[int] = 0, max_seconds: float = 3600) -> Iterator[Tuple[int, int]]:
    """Start a fixture server on a free port; yield (pid, port); stop it by PID."""
    port = free_port()
    cmd = pin(core) + SERVERS[name]["cmd"] + ["--port", str(port), "--max-seconds", str(max_seconds)]
    with tempfile.TemporaryFile(mode="w+b") as log:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=bool(NICE[0]))
        boost(proc.pid)
        try:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    raise BenchmarkError(f"{name} server exited with {proc.returncode}: {_tail(log)}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BenchmarkError(f"{name} server did not listen on {port}: {_tail(log)}") from None
                    time.sleep(0.05)
            yield proc.pid, port
            if proc.poll() is not None:
                raise BenchmarkError(f"{name} server died during the run: {_tail(log)}")
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()


def _tail(log: Any) -> str:
    log.seek(0)
    return log.read()[-2000:].decode("utf-8", "replace")


def scenario_config(scenario: str, profile: str) -> Dict[str, Any]:
    prof = PROFILES[profile]
    cfg = dict(SCENARIOS[scenario]["gen"])
    cfg.update(duration=prof["duration"], warmup=prof["warmup"])
    cfg.update(prof.get("override", {}).get(scenario, {}))
    return cfg


def run_loadgen(port: int, pid: int, cfg: Dict[str, Any], core: Optional[int] = 1,
                timeout: float = 300) -> Dict[str, Any]:
    full = dict(cfg, port=port, serverPid=pid, clkTck=os.sysconf("SC_CLK_TCK"), timeout=timeout)
    cmd = pin(core) + ["node", str(LOADGEN), json.dumps(full)]
    with subprocess.Popen(cmd, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=bool(NICE[0])) as proc:
        boost(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout + 30)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchmarkError(f"load generator printed no result (exit {proc.returncode}): {stderr[-2000:]}")
    result: Dict[str, Any] = json.loads(lines[-1])
    if proc.returncode != 0 and not result.get("errors"):
        result.setdefault("errors", []).append(f"load generator exit {proc.returncode}")
    return result


def run_one(server: str, scenario: str, profile: str = "full", server_core: Optional[int] = 0,
            gen_core: Optional[int] = 1) -> Dict[str, Any]:
    cfg = scenario_config(scenario, profile)
    with server_process(server, server_core) as (pid, port):
        return run_loadgen(port, pid, cfg, gen_core)


def busy_cores(interval: float = 1.0) -> Optional[float]:
    """How many cores the whole machine kept busy over ``interval`` seconds (Linux), else None."""
    def sample() -> Optional[float]:
        try:
            f = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")
    a = sample()
    time.sleep(interval)
    b = sample()
    return None if a is None or b is None else (b - a) / interval


QUIET_TIMEOUT = [120.0]


def boost(pid: int) -> None:
    """Give the process's own scheduling autogroup the chosen niceness.

    With autogroup scheduling (Linux default on desktops and many VMs) a plain
    ``nice`` only ranks processes within one session; each benchmark process is
    started in a session of its own and its group gets the niceness instead.
    """
    if not NICE[0]:
        return
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(NICE[0]))
    except OSError:
        pass


def wait_quiet(max_busy: float, timeout: float) -> None:
    """Wait (up to ``timeout`` s) until other processes leave the machine idle."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        busy = busy_cores()
        if busy is None or busy <= max_busy or time.monotonic() > deadline:
            return
        if not said:
            print(f"   machine busy ({busy:.2f} cores used by other processes): waiting", flush=True)
            said = True
        time.sleep(2)


def run_clean(server: str, scenario: str, profile: str, server_core: Optional[int], gen_core: Optional[int],
              max_other: float, retries: int) -> Dict[str, Any]:
    """run_one, again (up to ``retries`` times) while other processes took CPU during the window."""
    for attempt in range(retries + 1):
        if max_other < 2 and QUIET_TIMEOUT[0] > 0:
            wait_quiet(max_other, QUIET_TIMEOUT[0])
        try:
            res = run_one(server, scenario, profile, server_core, gen_core)
        except (BenchmarkError, subprocess.TimeoutExpired) as exc:
            return {"errors": [str(exc)[:500]]}
        # Contended: other processes ran during the window while the server was short of its core.
        other, server_cpu = res.get("other_cpu"), res.get("server_cpu")
        contended = other is not None and other > max_other and (server_cpu or 0) < 0.9
        if res.get("errors") or not contended or attempt == retries:
            if contended:
                res["contended"] = True
            return res
        print(f"{scenario:10} {server:17}    other processes used {other:.2f} CPU: run again", flush=True)
    raise AssertionError("unreachable")


def metric_of(scenario: str, result: Dict[str, Any]) -> Optional[float]:
    value = result.get(SCENARIOS[scenario]["metric"])
    return None if value is None else float(value)


def median(values: List[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(value: Optional[float], scenario: str = "") -> str:
    if value is None:
        return "-"
    if scenario == "memory":
        return f"{value:.1f} KiB"
    if abs(value) >= 10000:
        return f"{value / 1000:.1f}k"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def summarize(results: Dict[Tuple[str, str], List[Dict[str, Any]]]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    out = {}
    for (server, scenario), runs in results.items():
        ok = [r for r in runs if not r.get("errors")]
        out[(server, scenario)] = {
            "value": median([metric_of(scenario, r) for r in ok]),
            "rate": median([r.get("rate") for r in ok]),
            "p50": median([r.get("p50_ms") for r in ok]),
            "p99": median([r.get("p99_ms") for r in ok]),
            "gen_cpu": median([r.get("gen_cpu") for r in ok]),
            "server_cpu": median([r.get("server_cpu") for r in ok]),
            "other_cpu": median([r.get("other_cpu") for r in ok]),
            "runs": len(runs), "failed": len(runs) - len(ok),
            "errors": sorted({e for r in runs for e in r.get("errors", [])})[:3],
            "contended": sum(1 for r in ok if r.get("contended")),
        }
    return out


def ratio(summary: Dict, a: str, b: str, key: str) -> Optional[float]:
    scenario, _, field = key.partition(":")
    sa, sb = summary.get((a, scenario)), summary.get((b, scenario))
    if not sa or not sb:
        return None
    va, vb = sa[field or "value"], sb[field or "value"]
    if va is None or not vb:
        return None
    return float(va) / float(vb)


def render(summary: Dict, servers: List[str], scenarios: List[str]) -> str:
    lines = []
    head = ["scenario"] + [SERVER_TITLES[s] for s in servers]
    pairs = [(a, b) for a, b in (("siothread", "python-socketio"), ("siothread", "node"),
                                 ("node", "python-socketio")) if a in servers and b in servers]
    head += [f"{a} / {b}" for a, b in pairs]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for sc in scenarios:
        row = [SCENARIOS[sc]["title"]]
        for s in servers:
            cell = summary.get((s, sc))
            if cell is None:
                row.append("n/a")
                continue
            text = fmt(cell["value"], sc)
            if SCENARIOS[sc].get("latency") and cell["p99"] is not None:
                text += f" (p50 {cell['p50']:.1f} / p99 {cell['p99']:.1f} ms)"
            if SCENARIOS[sc]["metric"] == "mb_per_s" and cell["rate"] is not None:
                text += f", {fmt(cell['rate'])} msg/s"
            if cell["contended"]:
                text += f" [{cell['contended']} contended]"
            if cell["failed"]:
                text += f" [{cell['failed']}/{cell['runs']} runs failed]"
            row.append(text)
        for a, b in pairs:
            r = ratio(summary, a, b, sc)
            row.append("-" if r is None else f"{r:.2f}x")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("CPU over the measured window, median, in cores: server / load generator / other processes.")
    lines.append("")
    lines.append("| scenario | " + " | ".join(SERVER_TITLES[s] for s in servers) + " |")
    lines.append("|" + "---|" * (len(servers) + 1))
    for sc in scenarios:
        if sc == "memory":
            continue
        row = [sc]
        for s in servers:
            cell = summary.get((s, sc))
            if cell is None or cell["server_cpu"] is None:
                row.append("-")
            else:
                other = "?" if cell["other_cpu"] is None else f"{cell['other_cpu']:.2f}"
                row.append(f"{cell['server_cpu']:.2f} / {cell['gen_cpu']:.2f} / {other}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def render_targets(summary: Dict) -> str:
    lines = ["| target (siothread / python-socketio, same run) | wanted | measured | met |", "|---|---|---|---|"]
    for title, key, op, want in TARGETS:
        r = ratio(summary, "siothread", "python-socketio", key)
        wanted = f"{op} {want:.2f}x" if want != 1 / 3 else f"{op} 1/3"
        if r is None:
            lines.append(f"| {title} | {wanted} | pending (no siothread row) | - |")
        else:
            met = r >= want if op == ">=" else r <= want
            lines.append(f"| {title} | {wanted} | {r:.2f}x | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        import gevent
        gv = gevent.__version__
    except ImportError:
        gv = "?"
    return (f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {platform.python_version()}, "
            f"gevent {gv}, Node {node}")


def write_docs(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds server_process(), which stops the server by PID


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per run, 1 repeat, 2k clients for memory/connect")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (what CI runs)")
    parser.add_argument("--servers", default=",".join(s for s in SERVERS if not SERVERS[s].get("optional")),
                        help="comma separated: " + ",".join(SERVERS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma separated: " + ",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--gen-core", type=int, default=1)
    parser.add_argument("--write-docs", action="store_true", help="rewrite the results block of docs/benchmarks.md")
    parser.add_argument("--json", metavar="FILE", help="write every raw result to FILE")
    parser.add_argument("--nice", type=int, default=-15 if hasattr(os, "geteuid") and os.geteuid() == 0 else 0,
                        help="niceness of servers and generator (default -15 as root: other processes on a "
                             "shared machine get little CPU during a run)")
    parser.add_argument("--quiet-timeout", type=float, default=None,
                        help="longest wait (s) for an idle machine before each run (default 30, 0 with --nice)")
    parser.add_argument("--max-other-cpu", type=float, default=None,
                        help="wait for the machine to be this idle before a run, and run again when other "
                             "processes used more CPU (cores) during the window; 2 turns this off (default "
                             "0.3, or 1.0 with --nice: then others only get the cycles our processes leave)")
    parser.add_argument("--retries", type=int, default=1)
    args = parser.parse_args(argv)
    NICE[0] = args.nice
    if args.max_other_cpu is None:
        args.max_other_cpu = 1.0 if args.nice else 0.3
    QUIET_TIMEOUT[0] = args.quiet_timeout if args.quiet_timeout is not None else 0.0 if args.nice else 30.0
    signal.signal(signal.SIGTERM, _terminate)

    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    repeat = args.repeat or PROFILES[profile]["repeat"]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in servers:
        if s not in SERVERS:
            parser.error(f"unknown server {s}")
    for s in scenarios:
        if s not in SCENARIOS:
            parser.error(f"unknown scenario {s}")
    usable = []
    for s in servers:
        why = server_unavailable(s)
        if why:
            print(f"skipping {s}: {why}", flush=True)
        else:
            usable.append(s)
    if not usable:
        return 1

    results: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    raw: List[Dict[str, Any]] = []
    for sc in scenarios:
        for rep in range(repeat):
            for s in usable:  # interleaved, so drift hits every server alike
                if sc in SERVERS[s]["skip"]:
                    continue
                res = run_clean(s, sc, profile, args.server_core, args.gen_core, args.max_other_cpu,
                                args.retries)
                results.setdefault((s, sc), []).append(res)
                raw.append(dict(res, server=s, name=sc, repeat=rep))
                value = metric_of(sc, res) if not res.get("errors") else None
                extra = ""
                if res.get("p99_ms") is not None:
                    extra += f" p50 {res['p50_ms']} ms p99 {res['p99_ms']} ms"
                if res.get("server_cpu") is not None:
                    extra += f" cpu server {res['server_cpu']:.2f} generator {res['gen_cpu']:.2f}"
                if res.get("other_cpu") is not None:
                    extra += f" other {res['other_cpu']:.2f}" + (" (CONTENDED)" if res.get("contended") else "")
                status = f"ERROR {res['errors'][:2]}" if res.get("errors") else fmt(value, sc)
                print(f"{sc:10} {s:17} #{rep + 1}: {status}{extra}", flush=True)

    summary = summarize(results)
    shown = [s for s in SERVERS if s in usable]
    table = render(summary, shown, scenarios)
    targets = render_targets(summary)
    print()
    print(table)
    print()
    print(targets)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    if args.write_docs:
        given = list(argv if argv is not None else sys.argv[1:])
        if "--json" in given:  # where the raw results went is no part of the method
            i = given.index("--json")
            del given[i:i + 2]
        given = [a for a in given if not a.startswith("--json=")]
        cmd = "python -m benchmarks.run " + " ".join(given)
        block = "\n".join([
            f"Measured {datetime.date.today().isoformat()} on: {machine()}.",
            f"Server pinned to core {args.server_core}, load generator to core {args.gen_core}; "
            f"profile `{profile}`, median of {repeat} run(s) per cell.",
            "",
            f"Command: `{cmd.strip()}`",
            "",
            table, "", targets,
        ])
        write_docs(block)
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    failed = sum(v["failed"] for v in summary.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
