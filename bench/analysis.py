"""Parameter importance and "is the difference real?" at 200 runs × 20 config keys (target ≤ 2 s).

    python bench/analysis.py                  # 200 runs × 20 keys, 3 warm repeats
    python bench/analysis.py --runs 1000 --keys 50

Measures (1) the pure computation (``labledger.analysis``) on in-memory configs, and (2) the
same through ``Api().importance`` / ``Api().compare`` over a fresh SQLite store under
``bench/.work/analysis`` (loading the runs included), which is what ``/api/importance`` and
``/api/significance`` do per request. "first" includes importing numpy/scikit-learn once;
"warm" is the median of the repeats after it, as in a running server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TARGET_S = 2.0


def make_sweep(runs: int, keys: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[float]]:
    """``keys`` config keys (numeric, integer, boolean, categorical, nested, a seed); three
    of them drive the metric."""
    import numpy as np

    rng = np.random.default_rng(seed)
    configs, values = [], []
    for i in range(runs):
        config: dict[str, Any] = {"seed": i, "optim": {}, "model": {}}
        for k in range(keys - 1):
            kind = k % 5
            name = f"k{k:02d}"
            target = config["optim"] if k % 2 else config["model"]
            if kind == 0:
                target[name] = float(rng.uniform(0, 1))
            elif kind == 1:
                target[name] = int(rng.integers(1, 9))
            elif kind == 2:
                target[name] = bool(rng.integers(0, 2))
            elif kind == 3:
                target[name] = str(rng.choice(["a", "b", "c", "d"]))
            else:
                target[name] = float(10 ** rng.uniform(-4, -1))
        model, optim = config["model"], config["optim"]
        value = (
            0.8 + 0.1 * model["k00"] - 0.02 * optim["k01"] + (0.05 if optim["k03"] == "a" else 0)
        )
        configs.append(config)
        values.append(float(value + rng.normal(0, 0.01)))
    return configs, values


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    """First call, then the median wall and CPU time of ``repeats`` warm calls (CPU time of
    this process stays honest when other jobs share the cores; the work is single-threaded)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return first, statistics.median(wall), statistics.median(cpu)


def record(store: Path, configs: list[dict[str, Any]], values: list[float]) -> None:
    import labledger as ll

    for config, value in zip(configs, values, strict=True):
        with ll.init(project="bench", config=config, capture=False) as run:
            run.log({"val/acc": value})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    work = BENCH / ".work" / "analysis"
    shutil.rmtree(work, ignore_errors=True)
    os.environ.update(
        LABLEDGER_DIR=str(work / "store"),
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        LABLEDGER_CAPTURE_CONSOLE="0",
    )
    t0 = time.perf_counter()
    import sklearn.tree  # noqa: F401  (timed apart: a server imports it once)

    import_s = time.perf_counter() - t0

    from labledger.analysis import compare_groups, labels_by_key, parameter_importance
    from labledger.analysis.grouping import group_values

    configs, values = make_sweep(args.runs, args.keys)
    ids = [str(i) for i in range(args.runs)]

    def pure_importance() -> Any:
        return parameter_importance(configs, values, "val/acc")

    def pure_significance() -> Any:
        labels = labels_by_key(configs, "optim.k03")
        groups, by_id = group_values(labels, values, ids)
        return compare_groups(groups, "val/acc", run_ids=by_id, by="optim.k03")

    rows = []
    for name, fn in (("importance", pure_importance), ("significance", pure_significance)):
        rows.append(("pure", name, *timed(fn, args.repeats)))
    result = pure_importance()

    record(work / "store", configs, values)
    import labledger as ll

    api = ll.Api()
    sdk = (
        ("importance", lambda: api.importance("val/acc", project="bench")),
        ("significance", lambda: api.compare("val/acc", project="bench", by="optim.k03")),
    )
    for name, fn in sdk:
        rows.append(("Api over SQLite", name, *timed(fn, args.repeats)))

    api_rows = [r for r in rows if r[0] == "Api over SQLite"]
    both, both_cpu = sum(r[3] for r in api_rows), sum(r[4] for r in api_rows)
    print(f"{args.runs} runs × {args.keys} config keys; scikit-learn import {import_s:.2f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'layer':<16} {'analysis':<13} {'first s':>8} {'warm s':>8} {'warm CPU s':>10}")
    for layer, name, first, warm, cpu in rows:
        print(f"{layer:<16} {name:<13} {first:>8.3f} {warm:>8.3f} {cpu:>10.3f}")
    verdict = "meets" if both <= TARGET_S else "MISSES"
    print(
        f"importance + significance through the Api, warm: {both:.3f} s wall, "
        f"{both_cpu:.3f} s CPU ({verdict} ≤ {TARGET_S} s wall)"
    )
    top = ", ".join(k.key for k in result.keys[:3])
    print(f"top keys: {top} (the sweep's metric depends on model.k00, optim.k01, optim.k03)")


if __name__ == "__main__":
    main()
