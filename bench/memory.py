"""labledger-only memory benchmark: RSS of a run logging 100 metrics at 1 kHz, and unpaced.

    python bench/memory.py                  # 120 s paced at 1 kHz, then 100 keys x 60,000 unpaced
    python bench/memory.py --hour           # the paced run for a full hour
    python bench/memory.py --seconds 30 --fast-steps 0

Each case runs in a child process that samples its own RSS (psutil) once a second from the
logging loop. "labledger's own" is RSS minus the RSS measured just before ``import labledger``
(psutil and the interpreter are in the baseline; numpy, SQLAlchemy and the store are not).
The paced loop sleeps to the next millisecond tick, like a training loop with a 1 ms step;
the unpaced one logs as fast as it can. Both end with ``finish()`` (everything committed).
System sampling and console capture are off; the store is fresh under ``bench/.work/memory``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
MB = 1e6
RESULT = "MEMORY_RESULT "


def child(store: Path, keys: int, rate: float, seconds: float, steps: int) -> dict[str, Any]:
    """Log ``keys`` metrics per step, paced at ``rate`` Hz for ``seconds`` (``rate`` 0:
    ``steps`` steps unpaced); RSS samples once a second as ``(t, rss)``."""
    import psutil

    proc = psutil.Process()
    baseline = proc.memory_info().rss
    import labledger as ll

    os.environ["LABLEDGER_DIR"] = str(store)
    names = [f"metric/{k:03d}" for k in range(keys)]
    run = ll.init(project="memory", config={"keys": keys, "rate": rate}, capture=False)
    after_init = proc.memory_info().rss
    log, clock, sleep = run.log, time.perf_counter, time.sleep
    samples: list[tuple[float, int]] = []
    cpu0, main0 = proc.cpu_times(), time.thread_time()
    t0 = clock()
    next_sample = t0
    step = 0
    period = 1.0 / rate if rate else 0.0
    end = t0 + seconds
    while True:
        now = clock()
        if now >= next_sample:
            samples.append((now - t0, proc.memory_info().rss))
            next_sample += 1.0
        if rate:
            if now >= end:
                break
        elif step >= steps:
            break
        base = 1.0 / (step + 1)
        log({k: base + j for j, k in enumerate(names)}, step=step)
        step += 1
        if rate:
            wait = t0 + step * period - clock()
            if wait > 0:
                sleep(wait)
    logged = clock() - t0
    samples.append((logged, proc.memory_info().rss))
    run.finish()
    durable = clock() - t0
    cpu1, main1 = proc.cpu_times(), time.thread_time()
    return {
        "baseline": baseline,
        "after_init": after_init,
        "samples": samples,
        "steps": step,
        "keys": keys,
        "logged_s": logged,
        "durable_s": durable,
        "after_finish": proc.memory_info().rss,
        "cpu_s": cpu1.user + cpu1.system - cpu0.user - cpu0.system,
        "main_cpu_s": main1 - main0,
    }


def slope(samples: list[tuple[float, int]], window: float) -> float:
    """Least-squares slope of RSS over the last ``window`` seconds, in MB per minute."""
    last = samples[-1][0]
    pts = [(t, r) for t, r in samples if t >= last - window]
    if len(pts) < 3:
        return float("nan")
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mr = sum(r for _, r in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    cov = sum((t - mt) * (r - mr) for t, r in pts)
    return cov / var * 60 / MB if var else float("nan")


def run_case(store: Path, keys: int, rate: float, seconds: float, steps: int) -> dict[str, Any]:
    shutil.rmtree(store, ignore_errors=True)
    args = json.dumps(
        {"store": str(store), "keys": keys, "rate": rate, "seconds": seconds, "steps": steps}
    )
    env = {
        **os.environ,
        "LABLEDGER_SYSTEM_METRICS_INTERVAL": "0",
        "LABLEDGER_CAPTURE_CONSOLE": "0",
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", args],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    line = next(x for x in reversed(out.splitlines()) if x.startswith(RESULT))
    result: dict[str, Any] = json.loads(line[len(RESULT) :])
    return result


def report(name: str, r: dict[str, Any]) -> dict[str, Any]:
    base = r["baseline"]
    rss = [s[1] for s in r["samples"]]
    own = [x - base for x in rss]
    points = r["steps"] * r["keys"]
    row = {
        "case": name,
        "baseline_mb": base / MB,
        "own_after_init_mb": (r["after_init"] - base) / MB,
        "own_peak_mb": max(own) / MB,
        "own_last_mb": own[-1] / MB,
        "rss_peak_mb": max(rss) / MB,
        "own_after_finish_mb": (r["after_finish"] - base) / MB,
        "slope_last_min_mb_per_min": slope(r["samples"], 60.0),
        "points": points,
        "logged_s": r["logged_s"],
        "points_per_s_durable": points / r["durable_s"],
        "background_cpu_pct": 100 * (r["cpu_s"] - r["main_cpu_s"]) / r["durable_s"],
        "own_mb_every_10s": [round((x - base) / MB, 1) for t, x in r["samples"][::10]],
    }
    print(f"{name}: {r['steps']:,} steps x {r['keys']} keys in {r['logged_s']:.1f} s")
    print(f"  RSS before import labledger {row['baseline_mb']:7.1f} MB")
    print(f"  own after init              {row['own_after_init_mb']:7.1f} MB")
    print(f"  own peak / last sample      {row['own_peak_mb']:7.1f} / {row['own_last_mb']:.1f} MB")
    print(f"  RSS peak (total)            {row['rss_peak_mb']:7.1f} MB")
    print(f"  own after finish            {row['own_after_finish_mb']:7.1f} MB")
    print(f"  last minute's slope         {row['slope_last_min_mb_per_min']:+7.2f} MB/min")
    print(f"  points/s to durable         {row['points_per_s_durable']:10,.0f}")
    print(f"  CPU of other threads        {row['background_cpu_pct']:7.1f} % of a core")
    print(f"  own MB every 10 s           {row['own_mb_every_10s']}")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="paced run length")
    ap.add_argument("--hour", action="store_true", help="paced run of 3,600 s")
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--rate", type=float, default=1000.0, help="steps per second (paced)")
    ap.add_argument("--fast-steps", type=int, default=60_000, help="unpaced steps (0: skip)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        job = json.loads(args.child)
        result = child(Path(job["store"]), job["keys"], job["rate"], job["seconds"], job["steps"])
        print(RESULT + json.dumps(result), flush=True)
        return
    seconds = 3600.0 if args.hour else args.seconds
    root = BENCH / ".work" / "memory"
    rows = []
    if seconds > 0:
        paced = run_case(root / "paced", args.keys, args.rate, seconds, 0)
        rows.append(report(f"paced {args.rate:,.0f} Hz", paced))
    if args.fast_steps:
        fast = run_case(root / "fast", args.keys, 0.0, 0.0, args.fast_steps)
        rows.append(report("unpaced", fast))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
