"""Workload sizes and the code each benchmark child process runs (one phase per process)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adapters import Adapter, RunSpec
from adapters.floor import FloorAdapter

PROJECT = "bench"
MARKER = "BENCH_MARKER"
W2_KEYS = [f"m{i:02d}" for i in range(20)]
W7_KEYS = ["loss", "acc", "lr", "grad_norm", "throughput"]


@dataclass
class Sizes:
    """Workload sizes (the spec's by default; ``--quick`` divides them)."""

    w1_steps: int = 100_000
    w2_steps: int = 10_000
    w3_runs: int = 1_000
    w6_steps: int = 10_000
    w7_procs: int = 8
    w7_steps: int = 2_000
    w8_runs: int = 10_000
    w8_points: int = 1_000_000
    w0_repeats: int = 5
    read_repeats: int = 3
    budget_s: float = 60.0  # per peer for W1, W2, W3 (larger sizes are scaled down)
    w8_budget_s: float = 150.0  # per peer for W8 population (labledger always runs full)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            w1_steps=10_000,
            w2_steps=1_000,
            w3_runs=100,
            w6_steps=10_000,
            w7_procs=8,
            w7_steps=200,
            w8_runs=1_000,
            w8_points=100_000,
            w0_repeats=3,
            read_repeats=2,
            budget_s=20.0,
            w8_budget_s=45.0,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- data ---------------------------------------------------------------------------------
def config_for(i: int, keys: int) -> dict[str, Any]:
    """A config of ``keys`` entries mixing ints, floats, strings and booleans."""
    kinds: list[Callable[[int], Any]] = [
        lambda k: i * 7 + k,
        lambda k: round(0.001 * (k + 1) * (1 + i % 10), 6),
        lambda k: f"choice-{(i + k) % 5}",
        lambda k: (i + k) % 2 == 0,
    ]
    return {f"p{k:02d}": kinds[k % 4](k) for k in range(keys)}


def spec_for(i: int, config_keys: int, final_keys: int, loss_steps: int) -> RunSpec:
    rng = random.Random(i)
    final = {"acc": rng.random()}
    final.update({f"f{k:02d}": rng.random() for k in range(final_keys - 1)})
    loss = [1.0 / (s + 1) + rng.random() * 0.01 for s in range(loss_steps)]
    return RunSpec(f"run-{i:05d}", config_for(i, config_keys), final, loss)


def specs(n: int, config_keys: int, final_keys: int, loss_steps: int) -> Iterator[RunSpec]:
    for i in range(n):
        yield spec_for(i, config_keys, final_keys, loss_steps)


# --- phases (each runs in a fresh child process) -------------------------------------------
def save_ref(workdir: Path, ref: str, name: str = "ref") -> None:
    (workdir / f"{name}.json").write_text(json.dumps({"ref": ref}))


def load_ref(path: Path) -> str:
    return str(json.loads(path.read_text())["ref"])


def phase_w1(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    """One run, one scalar per step."""
    n = int(p["steps"])
    floor_us = _floor_us_per_call(n)
    t_init = time.perf_counter()
    run = a.start(PROJECT, "w1", config_for(0, 10))
    save_ref(workdir, a.ref(run))
    log = a.logger(run)
    t0 = time.perf_counter()
    for i in range(n):
        log({"loss": 1.0 / (i + 1)}, i)
    t1 = time.perf_counter()
    a.finish(run)
    t2 = time.perf_counter()
    floor_us = min(floor_us, _floor_us_per_call(n))
    us_per_call = (t1 - t0) / n * 1e6
    return {
        "n": n,
        "us_per_call": us_per_call,
        "floor_us_per_call": floor_us,
        "per_floor": us_per_call / floor_us,
        "durable_s": t2 - t0,
        "points_per_s": n / (t2 - t0),
        "finish_s": t2 - t1,
        "init_s": t0 - t_init,
    }


def _floor_us_per_call(n: int) -> float:
    """W1's loop into the floor's logger (a timestamp and a list append), in this process:
    the machine's pace at this moment, for the "at most twice the floor" target."""
    floor = FloorAdapter(Path(os.devnull))
    log = floor.logger(floor.start(PROJECT, "w1-floor", {}))
    t0 = time.perf_counter()
    for i in range(n):
        log({"loss": 1.0 / (i + 1)}, i)
    return (time.perf_counter() - t0) / n * 1e6


def phase_w2(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    """20 metrics per step, one dict per step."""
    n = int(p["steps"])
    keys = W2_KEYS
    run = a.start(PROJECT, "w2", config_for(0, 10))
    log = a.logger(run)
    t0 = time.perf_counter()
    for i in range(n):
        base = 1.0 / (i + 1)
        log({k: base + j for j, k in enumerate(keys)}, i)
    t1 = time.perf_counter()
    a.finish(run)
    t2 = time.perf_counter()
    points = n * len(keys)
    return {
        "n": n,
        "points_per_s": points / (t2 - t0),
        "us_per_call": (t1 - t0) / n * 1e6,
        "durable_s": t2 - t0,
    }


def phase_w3(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    """Many runs through the normal per-run API (stops starting runs after the budget)."""
    n = int(p["runs"])
    t0 = time.perf_counter()
    deadline = t0 + float(p.get("budget_s", 1e9))
    done = 0
    for spec in specs(n, 30, 10, 100):
        if time.perf_counter() > deadline:
            break
        run = a.start(PROJECT, spec.name, spec.config)
        log = a.logger(run)
        for step, value in enumerate(spec.loss):
            log({"loss": value}, step)
        a.summary(run, spec.final)
        a.finish(run)
        done += 1
    elapsed = time.perf_counter() - t0
    return {"n": done, "runs_per_s": done / elapsed, "total_s": elapsed}


def phase_populate(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    """Bulk population through the fastest public API (W8; W5 when W1 was scaled down)."""
    budget = float(p["budget_s"])
    t0 = time.perf_counter()
    runs = int(p.get("runs", 0))
    created = 0
    if runs:
        stream = specs(runs, int(p["config_keys"]), int(p["final_keys"]), 0)
        created = a.populate_runs(PROJECT, stream, t0 + budget * 0.6)
    t1 = time.perf_counter()
    ref, written = a.populate_series(
        PROJECT, "series", "loss", int(p["points"]), t1 + max(budget * 0.4, budget - (t1 - t0))
    )
    t2 = time.perf_counter()
    save_ref(workdir, ref)
    return {"runs": created, "runs_s": t1 - t0, "points": written, "series_s": t2 - t1}


def _preload() -> None:
    """Import what every reader needs anyway (pandas, numpy), so that "first call" times
    compare opening the store and querying, not whose import pulled pandas in earlier."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _cold_warm(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, float, Any]:
    """First call, then the median of ``repeats`` more (one more when a call takes > 2 s)."""
    cold, out = _timed(fn)
    warm = statistics.median(_timed(fn)[0] for _ in range(repeats if cold < 2.0 else 1))
    return cold, warm, out


def phase_w4(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    _preload()
    a.prepare_read()
    cold, warm, df = _cold_warm(lambda: a.query(PROJECT))
    config_cols = sum(str(c).startswith(("config.", "params.")) for c in df.columns)
    metric_cols = sum(str(c).startswith("metrics.") for c in df.columns)
    return {
        "query_s": warm,
        "query_cold_s": cold,
        "rows": len(df),
        "config_cols": config_cols,
        "metric_cols": metric_cols,
    }


def phase_w5(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    _preload()
    a.prepare_read()
    ref = load_ref(Path(p["ref_file"]))
    cold, warm, (steps, _values) = _cold_warm(lambda: a.history(ref, "loss"))
    return {"read_s": warm, "read_cold_s": cold, "points": len(steps)}


def phase_w8_read(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    _preload()
    t_prep, _ = _timed(a.prepare_read)
    q_cold, q_warm, df = _cold_warm(lambda: a.query(PROJECT, limit=100))
    ref = load_ref(Path(p["ref_file"]))
    r_cold, r_warm, (steps, _) = _cold_warm(lambda: a.history(ref, "loss"))
    d_cold, d_warm, (dsteps, _) = _cold_warm(lambda: a.history_sampled(ref, "loss", 1000))
    return {
        "query_s": q_warm,
        "query_cold_s": q_cold,
        "rows": len(df),
        "read_s": r_warm,
        "read_cold_s": r_cold,
        "points": len(steps),
        "downsample_s": d_warm,
        "downsample_cold_s": d_cold,
        "sampled": len(dsteps),
        "prepare_s": t_prep,
    }


def phase_w6_writer(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    """Log, announce, then wait to be killed (never finishes the run)."""
    n = int(p["steps"])
    run = a.start(PROJECT, "w6", config_for(0, 10))
    save_ref(workdir, a.ref(run))
    log = a.logger(run)
    for i in range(n):
        log({"loss": 1.0 / (i + 1)}, i)
    print(MARKER, flush=True)
    time.sleep(600)
    return {"error": "was not killed"}


def phase_w6_reader(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    a.prepare_read()
    ref = load_ref(Path(p["ref_file"]))
    try:
        points = len(a.history(ref, "loss")[0])
    except LookupError:
        points = 0
    status = a.status(ref)
    n = int(p["steps"])
    return {"points": points, "recovered_pct": 100.0 * points / n, "run_status": status}


def phase_init_store(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    a.init_store(PROJECT)
    return {}


def phase_w7_writer(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    n, index = int(p["steps"]), int(p["index"])
    run = a.start(PROJECT, f"w7-{index}", config_for(index, 10))
    save_ref(workdir, a.ref(run), f"ref-{index}")
    log = a.logger(run)
    errors = 0
    first_error = ""
    for i in range(n):
        try:
            log({k: 1.0 / (i + 1) + j for j, k in enumerate(W7_KEYS)}, i)
        except Exception as exc:  # counted, not fatal: the point is how many land
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
    a.finish(run)
    return {"log_errors": errors, "first_error": first_error}


def phase_w7_reader(a: Adapter, workdir: Path, p: dict[str, Any]) -> dict[str, Any]:
    a.prepare_read()
    total = 0
    for ref_file in sorted(Path(p["writers_dir"]).glob("ref-*.json")):
        ref = load_ref(ref_file)
        for key in W7_KEYS:
            with contextlib.suppress(LookupError):
                total += len(a.history(ref, key)[0])
    return {"points": total}


PHASES: dict[str, Callable[[Adapter, Path, dict[str, Any]], dict[str, Any]]] = {
    "w1": phase_w1,
    "w2": phase_w2,
    "w3": phase_w3,
    "populate": phase_populate,
    "w4": phase_w4,
    "w5": phase_w5,
    "w6_writer": phase_w6_writer,
    "w6_reader": phase_w6_reader,
    "init_store": phase_init_store,
    "w7_writer": phase_w7_writer,
    "w7_reader": phase_w7_reader,
    "w8_read": phase_w8_read,
}


def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
