"""Threading mode beside gevent mode and python-socketio's threading mode.

    .venv/bin/python -m benchmarks.threading_modes                 # 3 repeats, medians
    .venv/bin/python -m benchmarks.threading_modes --repeat 1 --write-docs

Same load generator, pinning and quiet-machine rules as :mod:`benchmarks.run`
(whose servers and helpers it reuses). Three servers:

- ``siothread`` (gevent mode, ``siothread.serve``),
- ``siothread-threading``: ``Server(async_mode='threading')`` on Werkzeug's
  threaded server, no monkey-patching,
- ``python-socketio-threading``: python-socketio 5 ``async_mode='threading'`` on
  the same Werkzeug server (how its examples run with ``app.run(threaded=True)``).

Rows: echo (100 clients), broadcast to 100 clients in a room, connection rate
(2000 WebSocket sessions, 50 in flight) and memory per idle WebSocket
connection (1000 clients: every connection is an OS thread in threading mode).
"""
import argparse
import datetime
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from benchmarks import run

THREAD_SERVERS = {
    "siothread-threading": ("siothread threading (Werkzeug)", "siothread_threading_server.py"),
    "python-socketio-threading": ("python-socketio 5 threading (Werkzeug)", "psio_threading_server.py"),
}
for _name, (_title, _script) in THREAD_SERVERS.items():
    run.SERVERS[_name] = {"cmd": [run.PY, str(run.BENCH / "servers" / _script)], "skip": set()}
    run.SERVER_TITLES[_name] = _title
run.SERVER_TITLES["siothread"] = "siothread gevent (siothread.serve)"

ROWS: Dict[str, Dict[str, Any]] = {
    "echo": run.SCENARIOS["echo"],
    "broadcast100": {"title": "broadcast deliveries/s, 100 clients in a room", "metric": "rate", "higher": True,
                     "gen": {"scenario": "broadcast", "clients": 100, "window": 64}},
    "connect2k": {"title": "new connections/s (2k, 50 in flight)", "metric": "rate", "higher": True,
                  "latency": True, "gen": {"scenario": "connect", "total": 2000, "concurrency": 50}},
    "memory1k": {"title": "memory per idle WebSocket connection (KiB, 1k clients)", "metric": "value",
                 "higher": False, "gen": {"scenario": "memory", "clients": 1000, "settle": 2}},
}
run.SCENARIOS.update({k: v for k, v in ROWS.items() if k not in run.SCENARIOS})
SERVERS = ["siothread", "siothread-threading", "python-socketio-threading"]
BEGIN, END = "<!-- threading-results:begin -->", "<!-- threading-results:end -->"


def render(summary: Dict[Tuple[str, str], Dict[str, Any]]) -> str:
    head = ["row"] + [run.SERVER_TITLES[s] for s in SERVERS] + ["threading / python-socketio threading"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scenario, spec in ROWS.items():
        cells = [spec["title"]]
        for s in SERVERS:
            cell = summary.get((s, scenario), {})
            text = run.fmt(cell.get("value"), "memory" if scenario.startswith("memory") else scenario)
            if spec.get("latency") and cell.get("p99") is not None:
                text += f" (p99 {cell['p99']:.1f} ms)"
            if cell.get("failed"):
                text += f" [{cell['failed']} failed: {'; '.join(cell['errors'])[:120]}]"
            cells.append(text)
        r = run.ratio(summary, "siothread-threading", "python-socketio-threading", scenario)
        if r is not None and not spec["higher"]:
            cells.append(f"{r:.2f}x (lower is better)")
        else:
            cells.append("-" if r is None else f"{r:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(block: str) -> None:
    text = run.DOC.read_text()
    if BEGIN not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    run.DOC.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args(argv)
    run.NICE[0] = args.nice
    run.QUIET_TIMEOUT[0] = 20.0
    run.PROFILES["threading"] = {"duration": args.duration, "warmup": 1.0, "repeat": args.repeat}
    signal.signal(signal.SIGTERM, run._terminate)
    rows = [r for r in args.rows.split(",") if r]
    results: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for scenario in rows:
        for rep in range(args.repeat):
            for s in SERVERS:
                res = run.run_clean(s, scenario, "threading", 0, 1, 0.5, 1)
                results.setdefault((s, scenario), []).append(res)
                value = run.metric_of(scenario, res) if not res.get("errors") else None
                status = f"ERROR {res['errors'][:1]}" if res.get("errors") else run.fmt(value, scenario)
                cpu = f" cpu server {res['server_cpu']:.2f}" if res.get("server_cpu") is not None else ""
                print(f"{scenario:12} {s:26} #{rep + 1}: {status}{cpu}", flush=True)
    table = render(run.summarize(results))
    print()
    print(table)
    if args.write_docs:
        cmd = "python -m benchmarks.threading_modes " + " ".join(argv if argv is not None else sys.argv[1:])
        write_docs("\n".join([
            f"Measured {datetime.date.today().isoformat()} on: {run.machine()}.",
            f"Server pinned to core 0, load generator to core 1; {args.duration:g} s windows, median of "
            f"{args.repeat} run(s) per cell.", "", f"Command: `{cmd.strip()}`", "", table]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
