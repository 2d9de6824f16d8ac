"""W4/W8 runs query → DataFrame, labledger only: the columnar path (``Api().runs(...)
.to_pandas()``) against the row path (a ``RunView`` per run, one dict per row).

    python bench/query_frame.py [--runs 1000 --config 30 --metrics 10] [--store DIR]

Fills a SQLite store through the ``Store`` interface (W3's shape by default; W8's with
``--runs 10000 --config 50 --metrics 20``), then times ``acc > 0.5``, sorted by ``acc``
descending, every match and the first 100: warm, median of 5.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.sdk.api import Api, rows_frame
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch


def populate(uri: str, runs: int, config: int, metrics: int) -> None:
    store = open_store(uri)
    rng = random.Random(0)
    now = time.time()
    for i in range(runs):
        cfg = {f"param_{k}": rng.random() if k % 3 else rng.randint(0, 100) for k in range(config)}
        cfg["optimizer"] = rng.choice(["adam", "sgd"])
        run = RunRecord(
            run_id=new_run_id(),
            project="bench",
            name=f"run-{i}",
            created_at=now + i,
            config=cfg,
            status=RunStatus.FINISHED,
            ended_at=now + i + 1,
        )
        store.create_run(run)
        steps = np.arange(100)
        batch = RunBatch(
            metrics={"loss": MetricColumns(steps, rng.random() / (steps + 1), np.full(100, now))},
            summary={
                "acc": rng.random(),
                **{f"final_{k}": rng.random() for k in range(metrics - 1)},
            },
        )
        store.write_batch(run.run_id, batch)
    store.close()


def timed(fn: object, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--config", type=int, default=30)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    folder = args.store or Path(tempfile.mkdtemp(prefix="ll-query-"))
    uri = f"sqlite:///{folder / 'labledger.db'}"
    if not (folder / "labledger.db").exists():
        t0 = time.perf_counter()
        populate(uri, args.runs, args.config, args.metrics)
        print(f"populated {args.runs} runs in {time.perf_counter() - t0:.1f} s")
    api = Api(uri=uri)
    query = {"project": "bench", "filter": "metrics.acc > 0.5", "order_by": "-metrics.acc"}
    for limit in (None, 100):
        frame = api.runs(**query, limit=limit).to_pandas()
        columnar = timed(lambda limit=limit: api.runs(**query, limit=limit).to_pandas())
        rows = timed(lambda limit=limit: rows_frame(pd, list(api.runs(**query, limit=limit))))
        print(
            f"limit={limit}: {frame.shape[0]} rows x {frame.shape[1]} columns: "
            f"columnar {columnar * 1000:.1f} ms, row path {rows * 1000:.1f} ms "
            f"({rows / columnar:.1f}x)"
        )


if __name__ == "__main__":
    main()
