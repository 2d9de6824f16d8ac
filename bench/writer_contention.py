"""labledger-only: how long the writer's flushes take beside a busy training loop.

    python bench/writer_contention.py [--keys 20] [--points 500] [--flushes 10] [--src DIR]

A training loop that runs Python code holds the GIL; the writer's thread gets it back each
time it let go of it (for a syscall, for each step SQLite runs) only after waiting a switch
interval (5 ms) for the loop to yield. This times ``write_batch`` of one flush (``--keys`` x
``--points``) into a SQLite store on a background thread, while the main thread spins in a
Python loop and while it sleeps, in a child process per source (``--src``: another
checkout's ``src``, for a before/after; both by default when ``--src`` is given).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = "CONTENTION_RESULT "

CHILD = """
import json, sys, threading, time
import numpy as np
from labledger.entities import RunRecord, new_run_id
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.sqlite import SqliteStore

keys, points, flushes, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
store = SqliteStore(f"sqlite:///{path}")
run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
store.create_run(run)
step = [0]

def batch():
    steps = np.arange(step[0], step[0] + points)
    step[0] += points
    times = steps * 1.0
    return RunBatch(metrics={f"m{k:02d}": MetricColumns(steps, steps * 0.5 + k, times)
                             for k in range(keys)})

def flush_times(busy):
    done = []
    def writer():
        for _ in range(flushes):
            b = batch()
            t = time.perf_counter()
            store.write_batch(run.run_id, b)
            done.append(time.perf_counter() - t)
    thread = threading.Thread(target=writer)
    thread.start()
    spins = 0
    while thread.is_alive():
        if busy:
            spins += 1  # a training loop's Python: holds the GIL
        else:
            time.sleep(0.001)
    thread.join()
    return done

store.write_batch(run.run_id, batch())  # warm: statements prepared, pages cached
result = {"busy": flush_times(True), "quiet": flush_times(False)}
print("CONTENTION_RESULT " + json.dumps(result))
"""


def measure(src: Path, keys: int, points: int, flushes: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "PYTHONPATH": str(src)}
        args = [str(keys), str(points), str(flushes), str(Path(work) / "c.db")]
        out = subprocess.run(
            [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True
        )
        for line in out.stdout.splitlines():
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT) :])  # type: ignore[no-any-return]
        raise SystemExit(f"the child failed:\n{out.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--points", type=int, default=500, help="points per key per flush")
    parser.add_argument("--flushes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="child processes per source")
    parser.add_argument("--src", type=Path, help="another checkout's src, measured first")
    args = parser.parse_args()
    sources = [args.src.resolve(), ROOT / "src"] if args.src else [ROOT / "src"]
    for src in sources:
        busy: list[float] = []
        quiet: list[float] = []
        for _ in range(args.rounds):
            got = measure(src, args.keys, args.points, args.flushes)
            busy += got["busy"]
            quiet += got["quiet"]
        print(
            f"{src}: flush of {args.keys} keys x {args.points} points, median "
            f"{1000 * statistics.median(busy):.1f} ms beside a busy loop, "
            f"{1000 * statistics.median(quiet):.1f} ms beside a sleeping one"
        )


if __name__ == "__main__":
    main()
