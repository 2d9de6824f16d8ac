"""labledger-only hot-loop micro benchmark: µs per ``run.log`` and points/s to durable.

    python bench/hot_loop.py                      # 100,000 steps × 1 key, 3 repeats
    python bench/hot_loop.py --keys 20 --steps 10000
    python bench/hot_loop.py --profile            # pyinstrument report (if installed)

Each repeat uses a fresh store under ``bench/.work/hot_loop``; system sampling and console
capture are off, as in the full benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent


def one(store: Path, steps: int, keys: int, capture: bool) -> dict[str, float]:
    import labledger as ll

    os.environ["LABLEDGER_DIR"] = str(store)
    names = [f"m{k:02d}" for k in range(keys)]
    t_init = time.perf_counter()
    run = ll.init(project="hot-loop", config={"steps": steps, "keys": keys}, capture=capture)
    log = run.log
    t0 = time.perf_counter()
    if keys == 1:
        for i in range(steps):
            log({"loss": 1.0 / (i + 1)}, step=i)
    else:
        for i in range(steps):
            base = 1.0 / (i + 1)
            log({k: base + j for j, k in enumerate(names)}, step=i)
    t1 = time.perf_counter()
    run.finish()
    t2 = time.perf_counter()
    return {
        "init_s": t0 - t_init,
        "us_per_call": (t1 - t0) / steps * 1e6,
        "finish_s": t2 - t1,
        "durable_s": t2 - t0,
        "points_per_s": steps * keys / (t2 - t0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=1, help="metrics per log call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-capture", action="store_true", help="init(capture=False)")
    ap.add_argument("--profile", action="store_true", help="profile one repeat (pyinstrument)")
    args = ap.parse_args()
    os.environ.setdefault("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
    os.environ.setdefault("LABLEDGER_CAPTURE_CONSOLE", "0")
    root = BENCH / ".work" / "hot_loop"
    shutil.rmtree(root, ignore_errors=True)

    profiler: Any = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    rows = [
        one(root / f"r{i}", args.steps, args.keys, not args.no_capture)
        for i in range(1 if args.profile else args.repeats)
    ]
    if profiler is not None:
        profiler.stop()
        out = root / "profile.txt"
        out.write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"profile: {out}")

    print(f"labledger hot loop: {args.steps:,} steps × {args.keys} key(s), {len(rows)} repeat(s)")
    for key in ("init_s", "us_per_call", "finish_s", "durable_s", "points_per_s"):
        values = [r[key] for r in rows]
        print(f"  {key:<13} median {statistics.median(values):>14,.3f}   all {values}")


if __name__ == "__main__":
    main()
