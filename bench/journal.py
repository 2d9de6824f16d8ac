"""The point journal's cost and what it buys (labledger only; peers: see W6 in README.md).

    python bench/journal.py                 # W1 cost with/without the journal, W6 tight loop
    python bench/journal.py --kills 5       # W6 repeated 5 times per setting

W1: 100,000 × ``log({"loss": v}, step=i)``; µs per call as wall time and as the main thread's
CPU time (``time.thread_time``: on a loaded machine the wall time mostly measures the
scheduler), journal on (``LABLEDGER_POINT_JOURNAL=1``) and off (the previous path),
interleaved. Beside them, the least any journaled call can add in CPython, without labledger:
a Python function appending ``(time, step, dict copy)`` to a deque, and one writing it instead
as a checked record into a shared mapping with the fewest operations (one encode, one CRC, one
header pack, one ``mmap.write``, which also orders the records of several threads). W6: a
child logs 10,000 steps in a tight loop and SIGKILLs itself right after the last ``log``
returns; a fresh process (``Api()``, which recovers) counts the stored points.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SRC = str(BENCH.parent / "src")

W1 = textwrap.dedent(
    """
    import json, sys, time, labledger
    run = labledger.init(project="w1", capture=False)
    log = run.log
    n = int(sys.argv[1])
    c0, t0 = time.thread_time(), time.perf_counter()
    for i in range(n):
        log({"loss": 1.0 / (i + 1)}, step=i)
    c1, t1 = time.thread_time(), time.perf_counter()
    run.finish()
    t2 = time.perf_counter()
    print(json.dumps({"wall_us": (t1 - t0) / n * 1e6, "cpu_us": (c1 - c0) / n * 1e6,
                      "durable_s": t2 - t0}))
    """
)

# The least a journaled call adds: the same loop shape as W1, no labledger code.
FLOOR = textwrap.dedent(
    """
    import collections, json, marshal, mmap, struct, sys, time, zlib
    n = int(sys.argv[1])
    queue = collections.deque()
    append, now = queue.append, time.time

    def plain(data, step):
        append((now(), step, data.copy()))

    mapping = mmap.mmap(-1, 64 << 20)
    header = struct.Struct("<II").pack
    dumps, crc, write = marshal.dumps, zlib.crc32, mapping.write

    def journaled(data, step):
        point = (now(), step, data.copy())
        payload = dumps(point, 2)
        write(header(len(payload), crc(payload, 7)) + payload)

    out = {}
    for name, log in (("floor_plain_us", plain), ("floor_journal_us", journaled)):
        queue.clear()
        mapping.seek(0)
        c0 = time.thread_time()
        for i in range(n):
            log({"loss": 1.0 / (i + 1)}, i)
        out[name] = (time.thread_time() - c0) / n * 1e6
    print(json.dumps(out))
    """
)

W6 = textwrap.dedent(
    """
    import os, signal, labledger
    run = labledger.init(project="w6", capture=False)
    print(run.id, flush=True)
    for i in range(10_000):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 10_000}, step=i)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)

READ = textwrap.dedent(
    """
    import sys
    from labledger.sdk.api import Api
    api = Api()
    record = api.settle(api.store.get_run(sys.argv[1]))
    print(len(api.store.read_metric(sys.argv[1], "loss")), record.status)
    """
)


def _env(root: Path, journal: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LABLEDGER_DIR=str(root),
        PYTHONPATH=SRC,
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        LABLEDGER_CAPTURE_CONSOLE="0",
        LABLEDGER_POINT_JOURNAL="1" if journal else "0",
    )
    env.pop("LABLEDGER_URI", None)
    return env


def _py(code: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    return out.stdout


def main() -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--kills", type=int, default=3)
    args = ap.parse_args()
    work = BENCH / ".work" / "journal"
    shutil.rmtree(work, ignore_errors=True)
    rows: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    floors: list[dict[str, float]] = []
    for i in range(args.repeats):
        for journal in (True, False):
            root = work / f"w1-{journal}-{i}"
            rows[journal].append(json.loads(_py(W1, _env(root, journal), str(args.steps))))
        floors.append(json.loads(_py(FLOOR, _env(work, False), str(args.steps))))
    print(f"W1: {args.steps:,} log calls, {args.repeats} interleaved repeats (median)")
    for key in ("cpu_us", "wall_us", "durable_s"):
        on = statistics.median(r[key] for r in rows[True])
        off = statistics.median(r[key] for r in rows[False])
        print(f"  {key:<10} journal {on:8.3f}   without {off:8.3f}   ratio {on / off:5.2f}")
    plain = statistics.median(f["floor_plain_us"] for f in floors)
    least = statistics.median(f["floor_journal_us"] for f in floors)
    without = statistics.median(r["cpu_us"] for r in rows[False])
    print(
        f"  floor (no labledger, CPU): deque append {plain:.3f} us, the least journal write "
        f"instead {least:.3f} us ({least / plain:.2f}x); labledger without the journal "
        f"{without:.3f} us (1.3x allows {1.3 * without:.3f} us)"
    )
    print("W6: 10,000 steps, SIGKILL right after the last log returns")
    for journal in (True, False):
        results = []
        for i in range(args.kills):
            root = work / f"w6-{journal}-{i}"
            env = _env(root, journal)
            run_id = _py(W6, env).strip()
            results.append(_py(READ, env, run_id).strip())
        print(f"  journal {'on ' if journal else 'off'}: {results}")


if __name__ == "__main__":
    main()
