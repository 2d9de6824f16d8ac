"""Team-server benchmarks: ingest from many client processes, and the client's costs.

    python bench/ingest.py ingest --processes 32 --duration 60      # into one server on PostgreSQL
    python bench/ingest.py ingest --processes 4 --duration 5         # a quick run
    python bench/ingest.py costs                                     # run.log, init→finish
    python bench/ingest.py outage --down 30                          # server down mid-run

``ingest``: N client processes each log ``--keys`` metrics per step at ``--rate`` steps/s
through ``HttpStore`` into one server (``--workers`` uvicorn processes) over a fresh
PostgreSQL schema; reports points/s from the first point to the last acknowledgement, the
p50/p99 latency of the batch requests (timed in the clients), errors, and points lost
(counted back from the database). ``costs``: µs per ``run.log`` with ``HttpStore``, and
``init`` → ``finish`` of a 1,000-point run through the server against the embedded store.
``outage``: the server SIGKILLed for ``--down`` s mid-run and restarted: points lost and
duplicated, and the training loop's step time during the outage against before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.client.server import ServerProcess  # noqa: E402

POSTGRES = os.environ.get("LABLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

CLIENT = textwrap.dedent(
    """
    import json, sys, time
    import labledger as ll
    from labledger.store import http

    duration, keys, rate = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    latencies = []
    errors = []
    original = http.HttpStore._call

    def timed(self, method, path, **kw):
        start = time.perf_counter()
        try:
            return original(self, method, path, **kw)
        except Exception as exc:
            errors.append(repr(exc))
            raise
        finally:
            if "/batches" in path:
                latencies.append(time.perf_counter() - start)

    http.HttpStore._call = timed
    names = [f"m{i}" for i in range(keys)]
    run = ll.init(project="bench", capture=False)
    start = time.time()
    step = 0
    interval = 1.0 / rate
    next_at = time.perf_counter()
    while time.time() - start < duration:
        run.log({k: step * 0.001 + i for i, k in enumerate(names)}, step=step)
        step += 1
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    run.finish()
    run.store.close()
    end = time.time()
    print(json.dumps({"run_id": run.id, "points": step * keys, "start": start, "end": end,
                      "latencies": latencies, "errors": errors, "cpu": time.process_time()}))
    """
)


def _pg_schema() -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{POSTGRES}?options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_seconds(server: ServerProcess) -> float:
    """CPU time the server process and its workers used so far."""
    import psutil

    assert server.proc is not None
    root = psutil.Process(server.proc.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def ingest(args: argparse.Namespace) -> dict[str, object]:
    from labledger.store import open_store

    schema, uri = _pg_schema()
    work = Path(tempfile.mkdtemp(prefix="ll-ingest-"))
    server = ServerProcess(uri, work / "server.log", workers=args.workers).start()
    time.sleep(2.0)  # let every worker finish importing before the CPU baseline
    idle_cpu = _cpu_seconds(server)
    try:
        procs = []
        for i in range(args.processes):
            env = dict(
                os.environ,
                LABLEDGER_URI=server.url,
                LABLEDGER_DIR=str(work / f"client{i}"),
                LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
                LABLEDGER_FLUSH_INTERVAL=str(args.flush_interval),
                PYTHONPATH=str(ROOT / "src"),
            )
            cmd = [sys.executable, "-c", CLIENT, str(args.duration), str(args.keys)]
            cmd.append(str(args.rate))
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True))
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=args.duration + 600)
            results.append(json.loads(out.strip().splitlines()[-1]))
        server_cpu = _cpu_seconds(server) - idle_cpu
    finally:
        server.stop()
    store = open_store(uri)
    stored = sum(sum(m.count for m in store.get_run(r["run_id"]).metrics.values()) for r in results)
    store.close()
    _drop_schema(schema)
    sent = sum(r["points"] for r in results)
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "processes": args.processes,
        "duration_s": args.duration,
        "keys": args.keys,
        "flush_interval_s": args.flush_interval,
        "server_workers": args.workers,
        "points_logged": sent,
        "points_stored": stored,
        "points_lost": sent - stored,
        "points_per_s": round(sent / (end - start)),
        "requests": len(latencies),
        "latency_p50_ms": round(_pct(latencies, 0.5) * 1000, 1),
        "latency_p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
        "errors": sum(len(r["errors"]) for r in results),
        "error_samples": sorted({e for r in results for e in r["errors"]})[:5],
        "server_cpu_us_per_point": round(server_cpu / max(sent, 1) * 1e6, 3),
        "client_cpu_us_per_point": round(sum(r["cpu"] for r in results) / max(sent, 1) * 1e6, 3),
    }


COSTS = textwrap.dedent(
    """
    import json, sys, time
    import labledger as ll
    n = 200_000
    run = ll.init(project="costs", capture=False)
    start = time.perf_counter()
    for i in range(n):
        run.log({"loss": 0.5}, step=i)
    per_call = (time.perf_counter() - start) / n * 1e6
    run.finish()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with ll.init(project="costs") as r:
            for i in range(1000):
                r.log({"loss": i * 0.1}, step=i)
        times.append(time.perf_counter() - start)
    print(json.dumps({"log_us": per_call, "run_1000_s": sorted(times)[2]}))
    """
)


def _child(code: str, env: dict[str, str], *args: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), **env)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def costs(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="ll-costs-"))
    embedded = _child(COSTS, {"LABLEDGER_DIR": str(work / "embedded")})
    server = ServerProcess(f"sqlite:///{work / 'server' / 'labledger.db'}", work / "log").start()
    try:
        env = {"LABLEDGER_URI": server.url, "LABLEDGER_DIR": str(work / "client")}
        remote = _child(COSTS, env)
    finally:
        server.stop()
    return {
        "log_us_embedded": round(embedded["log_us"], 2),
        "log_us_http": round(remote["log_us"], 2),
        "run_1000_embedded_s": round(embedded["run_1000_s"], 3),
        "run_1000_http_s": round(remote["run_1000_s"], 3),
        "run_1000_ratio": round(remote["run_1000_s"] / embedded["run_1000_s"], 2),
    }


OUTAGE = textwrap.dedent(
    """
    import json, sys, time
    import labledger as ll
    steps = int(sys.argv[1])
    run = ll.init(project="outage", capture=False)
    print(run.id, flush=True)
    durations = []
    for i in range(steps):
        start = time.perf_counter()
        run.log({"loss": float(i), "acc": i / steps}, step=i)
        time.sleep(0.001)  # the training step
        durations.append(time.perf_counter() - start)
        if i % 1000 == 0:
            print(f"step {i} {time.time()}", flush=True)
    run.finish()
    print(json.dumps({"durations": durations}), flush=True)
    """
)


def outage(args: argparse.Namespace) -> dict[str, object]:
    from labledger.store import open_store

    work = Path(tempfile.mkdtemp(prefix="ll-outage-"))
    db = f"sqlite:///{work / 'server' / 'labledger.db'}"
    server = ServerProcess(db, work / "log").start()
    steps = int((args.down + 20) / 0.0011)
    env = dict(
        os.environ,
        LABLEDGER_URI=server.url,
        LABLEDGER_DIR=str(work / "client"),
        PYTHONPATH=str(ROOT / "src"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", OUTAGE, str(steps)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(5)
    server.kill()
    down_at = time.time()
    time.sleep(args.down)
    server.start()
    up_at = time.time()
    out = proc.stdout.read()
    proc.wait()
    server.stop()
    durations = json.loads(out.strip().splitlines()[-1])["durations"]
    store = open_store(db)
    series = store.read_metric(run_id, "loss")
    store.close()
    logged = list(range(steps))
    stored = series.steps.tolist()
    before = durations[: int(4 / 0.0011)]
    during = durations[int(6 / 0.0011) : int((4 + args.down) / 0.0011)]
    return {
        "down_s": round(up_at - down_at, 1),
        "points_logged": steps,
        "points_lost": len(set(logged) - set(stored)),
        "points_duplicated": len(stored) - len(set(stored)),
        "step_ms_median_before": round(statistics.median(before) * 1000, 3),
        "step_ms_median_during": round(statistics.median(during) * 1000, 3),
        "step_ms_p99_before": round(_pct(before, 0.99) * 1000, 3),
        "step_ms_p99_during": round(_pct(during, 0.99) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="many clients into one server on PostgreSQL")
    p.add_argument("--processes", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--keys", type=int, default=100, help="metrics per step")
    p.add_argument("--rate", type=float, default=160.0, help="steps/s per process")
    p.add_argument("--workers", type=int, default=2, help="server processes")
    p.add_argument("--flush-interval", type=float, default=0.5)
    sub.add_parser("costs", help="run.log cost and init→finish through the server")
    o = sub.add_parser("outage", help="the server down mid-run")
    o.add_argument("--down", type=float, default=30.0, help="seconds the server is down")
    args = parser.parse_args()
    result = {"ingest": ingest, "costs": costs, "outage": outage}[args.command](args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
