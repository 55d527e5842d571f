"""The scaling curve of siothread: idle connections and room size.

    .venv/bin/python -m benchmarks.scaling                  # 1k/5k/10k idle, rooms of 100/1000/5000
    .venv/bin/python -m benchmarks.scaling --write-docs     # also rewrite the block in docs/benchmarks.md

- Idle connections (1k, 5k, 10k WebSocket clients, Engine.IO open + Socket.IO
  CONNECT, answering pings; ping interval 5 s so a window sees every client ping
  several times): server RSS per connection, heartbeat lateness per PING (how
  long after ``pingInterval`` past the previous one it arrived: p50 / p99 / max)
  and the server's CPU while idle.
- Broadcast (one sender, 64 broadcasts in flight, rooms of 100, 1000 and 5000
  clients): deliveries/s and the server's CPU per delivery.

Same pinning, niceness and load generator as :mod:`benchmarks.run`.
"""
import argparse
import datetime
import os
import signal
import sys
from typing import Any, Dict, List, Optional

from . import run as R

BEGIN, END = "<!-- scaling-results:begin -->", "<!-- scaling-results:end -->"
PING_INTERVAL = 5.0
IDLE_SIZES = [1000, 5000, 10000]
ROOM_SIZES = [100, 1000, 5000]


def _server(ping_interval: Optional[float]) -> str:
    name = "siothread" if ping_interval is None else f"siothread-ping{ping_interval:g}"
    if name not in R.SERVERS:
        R.SERVERS[name] = {"cmd": R.SERVERS["siothread"]["cmd"] + ["--ping-interval", str(ping_interval)],
                           "skip": set()}
    return name


def idle(clients: int, window: float) -> Dict[str, Any]:
    cfg = {"scenario": "idle", "clients": clients, "settle": PING_INTERVAL + 1, "duration": window,
           "warmup": 0, "pingInterval": PING_INTERVAL * 1000, "connectConcurrency": 100}
    with R.server_process(_server(PING_INTERVAL), 0) as (pid, port):
        return R.run_loadgen(port, pid, cfg, 1, timeout=120 + clients / 50)


def broadcast(clients: int, duration: float) -> Dict[str, Any]:
    cfg = dict(R.SCENARIOS["broadcast"]["gen"], clients=clients, duration=duration, warmup=1.0)
    with R.server_process(_server(None), 0) as (pid, port):
        return R.run_loadgen(port, pid, cfg, 1)


def _med(rows: List[Dict[str, Any]], key: str) -> Optional[float]:
    return R.median([r.get(key) for r in rows if not r.get("errors")])


def render(idle_rows: Dict[int, List[Dict[str, Any]]], room_rows: Dict[int, List[Dict[str, Any]]]) -> str:
    out = ["| idle clients | KiB per connection | PING lateness p50 / p99 / max (ms) | server CPU while idle |",
           "|---|---|---|---|"]
    for n, rows in idle_rows.items():
        errs = [e for r in rows for e in r.get("errors", [])]
        if errs:
            out.append(f"| {n} | error: {errs[0][:80]} | | |")
            continue
        out.append(f"| {n} | {_med(rows, 'value'):.1f} | {_med(rows, 'p50_ms'):.1f} / {_med(rows, 'p99_ms'):.1f} / "
                   f"{_med(rows, 'jitter_max_ms'):.1f} | {_med(rows, 'idle_server_cpu'):.2f} cores |")
    out += ["", "| room size | deliveries/s | server CPU per delivery | generator CPU |", "|---|---|---|---|"]
    for n, rows in room_rows.items():
        errs = [e for r in rows for e in r.get("errors", [])]
        if errs:
            out.append(f"| {n} | error: {errs[0][:80]} | | |")
            continue
        rate, cpu, gen = _med(rows, "rate"), _med(rows, "server_cpu"), _med(rows, "gen_cpu")
        per = cpu / rate * 1e6 if rate and cpu is not None else None
        out.append(f"| {n} | {R.fmt(rate)} | {per:.1f} us | {gen:.2f} cores |")
    return "\n".join(out)


def write_docs(block: str) -> None:
    text = R.DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + BEGIN + "\n" + block + "\n" + END + tail
    else:
        text += f"\n{BEGIN}\n{block}\n{END}\n"
    R.DOC.write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--window", type=float, default=12.0, help="seconds of heartbeat measurement")
    parser.add_argument("--idle", default=",".join(map(str, IDLE_SIZES)))
    parser.add_argument("--rooms", default=",".join(map(str, ROOM_SIZES)))
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--nice", type=int, default=-15 if hasattr(os, "geteuid") and os.geteuid() == 0 else 0)
    args = parser.parse_args(argv)
    R.NICE[0] = args.nice
    signal.signal(signal.SIGTERM, R._terminate)
    why = R.server_unavailable("siothread")
    if why:
        print(f"cannot run: {why}")
        return 1
    idle_rows: Dict[int, List[Dict[str, Any]]] = {}
    room_rows: Dict[int, List[Dict[str, Any]]] = {}
    for rep in range(args.repeat):
        for n in [int(x) for x in args.idle.split(",") if x]:
            res = idle(n, args.window)
            idle_rows.setdefault(n, []).append(res)
            print(f"idle {n:6} #{rep + 1}: {res.get('value')} KiB/conn, lateness p50 {res.get('p50_ms')} "
                  f"p99 {res.get('p99_ms')} max {res.get('jitter_max_ms')} ms over {res.get('pings')} pings, "
                  f"idle cpu {res.get('idle_server_cpu')} {res.get('errors') or ''}", flush=True)
        for n in [int(x) for x in args.rooms.split(",") if x]:
            res = broadcast(n, 5.0)
            room_rows.setdefault(n, []).append(res)
            print(f"room {n:6} #{rep + 1}: {res.get('rate')} deliveries/s cpu server {res.get('server_cpu')} "
                  f"generator {res.get('gen_cpu')} {res.get('errors') or ''}", flush=True)
    table = render(idle_rows, room_rows)
    print()
    print(table)
    if args.write_docs:
        given = " ".join(argv if argv is not None else sys.argv[1:])
        block = "\n".join([
            f"Measured {datetime.date.today().isoformat()} on: {R.machine()}; median of {args.repeat} run(s).",
            "",
            f"Command: `python -m benchmarks.scaling {given}`".replace(" `", " `").rstrip(),
            "",
            table,
        ])
        write_docs(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
