"""Server-side timings of the UI's heaviest API calls, in process (no network).

    python bench/ui_api.py                  # 10,000 runs x 50 config x 20 metrics; 1M-point series
    python bench/ui_api.py --runs 1000 --points 100000 --db /tmp/ui.db   # smaller; keep the store

Targets (issue 8): runs table (filter + sort + first page of 100) <= 50 ms; a 1,000,000-point
series downsampled <= 30 ms; a zoom <= 50 ms. Each figure is the median of warm repeats of
the whole request (routing, store reads, JSON) through an in-process client, as wall-clock
and process CPU time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from labledger.config import load_settings
from labledger.entities import RunRecord, RunStatus
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch, Store

PROJECT = "bench"


def populate(store: Store, runs: int, config_keys: int, metric_keys: int) -> None:
    rng = random.Random(0)
    optimizers = ["adam", "sgd", "adamw", "lion"]
    for i in range(runs):
        record = RunRecord(
            run_id=f"r{i:07d}",
            project=PROJECT,
            name=f"run-{i:05d}",
            status=RunStatus.FINISHED,
            created_at=1.7e9 + i,
            ended_at=1.7e9 + i + 100,
            host="bench",
        )
        config: dict[str, Any] = {
            "optimizer": optimizers[i % 4],
            "lr": rng.choice([1e-4, 1e-3, 1e-2]),
        }
        for k in range(config_keys - 2):
            config[f"p{k:02d}"] = rng.random() if k % 3 else f"choice-{(i + k) % 7}"
        record.config = config
        store.create_run(record)
        metrics = {}
        for k in range(metric_keys):
            values = np.asarray([rng.random() for _ in range(3)])
            metrics["acc" if k == 0 else f"m{k:02d}"] = MetricColumns(
                np.arange(3), values, np.full(3, 1.7e9 + i)
            )
        store.write_batch(record.run_id, RunBatch(metrics=metrics))


def populate_series(store: Store, points: int, chunk: int = 1000) -> str:
    record = RunRecord(run_id="series01", project=PROJECT, name="long", created_at=1.7e9)
    record.status = RunStatus.FINISHED
    store.create_run(record)
    rng = np.random.default_rng(0)
    values = np.exp(-np.arange(points) / points * 5) + rng.normal(0, 0.01, points)
    values[points // 3] = 50.0  # one spike
    steps = np.arange(points, dtype=np.int64)
    times = 1.7e9 + steps * 0.01
    for start in range(0, points, chunk):
        part = slice(start, start + chunk)
        store.write_metrics(
            record.run_id, {"loss": MetricColumns(steps[part], values[part], times[part])}
        )
    return record.run_id


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Median wall-clock and process CPU milliseconds of ``fn`` (CPU is the figure to read
    on a shared machine: the wall clock also counts waiting for other processes)."""
    result = fn()  # warm up
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--config-keys", type=int, default=50)
    parser.add_argument("--metric-keys", type=int, default=20)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--db", type=Path, help="store file to reuse (created when missing)")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from labledger.server.app import create_app
    from labledger.store.table import TableQuery, parse_columns, parse_sort, reference_table

    folder = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    db = args.db or folder / "labledger.db"
    fresh = not db.exists()
    store = open_store(f"sqlite:///{db}")
    if fresh:
        started = time.perf_counter()
        populate(store, args.runs, args.config_keys, args.metric_keys)
        series_id = populate_series(store, args.points)
        print(f"populated in {time.perf_counter() - started:.1f} s: {db}")
    else:
        series_id = "series01"
    settings = load_settings(env={"LABLEDGER_URI": store.uri}, cwd=folder)
    client = TestClient(create_app(store, settings=settings))

    filter_ = "metrics.acc > 0.5 and config.optimizer = 'adam'"
    columns = ",".join(
        ["config.lr", "config.optimizer"]
        + [f"config.p{k:02d}" for k in range(8)]
        + ["metrics.acc.last", "metrics.m01.min", "metrics.m02.max"]
    )
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (
            "runs table: filter + sort by metric + first 100",
            "/api/runs",
            {
                "project": PROJECT,
                "filter": filter_,
                "sort": "-metrics.acc.last",
                "limit": 100,
                "columns": columns,
            },
        ),
        (
            "runs table: sort by config key, no filter",
            "/api/runs",
            {
                "project": PROJECT,
                "sort": "config.p01,-metrics.m03.min",
                "limit": 100,
                "columns": columns,
            },
        ),
        (
            "runs table: page 50 (offset 5000)",
            "/api/runs",
            {"project": PROJECT, "sort": "name", "offset": 5000, "limit": 100, "columns": columns},
        ),
        (
            "groups by config.optimizer, mean of acc",
            "/api/runs/groups",
            {"project": PROJECT, "by": "config.optimizer", "metric": "metrics.acc.last"},
        ),
        (
            f"series: {args.points:,} points downsampled to 1000",
            f"/api/runs/{series_id}/series",
            {"key": "loss", "points": 1000},
        ),
        (
            "series: zoom to 1% of the steps",
            f"/api/runs/{series_id}/series",
            {
                "key": "loss",
                "points": 1000,
                "start": args.points // 2,
                "end": args.points // 2 + args.points // 100,
            },
        ),
    ]
    print(
        f"{args.runs:,} runs x {args.config_keys} config x {args.metric_keys} metrics; "
        f"median of {args.repeats}"
    )
    for label, path, params in cases:
        ms, cpu, response = timed(
            lambda path=path, params=params: client.get(path, params=params), args.repeats
        )
        assert response.status_code == 200, response.text
        print(f"  {ms:8.1f} ms wall {cpu:8.1f} ms cpu  {label}")
    cold_ms, cold_cpu, _ = timed(
        lambda: (
            client.app.state.series_cache.__init__(store),  # type: ignore[attr-defined]
            client.get(f"/api/runs/{series_id}/series", params={"key": "loss", "points": 1000}),
        ),
        5,
    )
    print(f"  {cold_ms:8.1f} ms wall {cold_cpu:8.1f} ms cpu  series downsampled, cache empty")

    query = TableQuery(PROJECT, filter_, parse_sort("-metrics.acc.last"), parse_columns(columns))
    ms, cpu, _ = timed(lambda: reference_table(store, query), 3)
    print(f"  {ms:8.1f} ms wall {cpu:8.1f} ms cpu  (reference: table from full records)")
    ms, cpu, _ = timed(lambda: store.read_metric(series_id, "loss"), 5)
    print(f"  {ms:8.1f} ms wall {cpu:8.1f} ms cpu  (store.read_metric, whole series)")
    store.close()


if __name__ == "__main__":
    main()
