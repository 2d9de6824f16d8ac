"""Long series for charts, labledger only: a 1,000-point view of a 1,000,000-point series
(whole, and zoomed step ranges) from the stored rollups, against reading the points and
reducing them (the previous path), and 100 such series in one ``read_envelopes`` call (the
compare view).

    python bench/series_rollups.py [--series 100 --points 1000000 --chunk 50000] [--store DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from labledger.entities import RunRecord, new_run_id
from labledger.sdk.series import envelope
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch


def populate(uri: str, series: int, points: int, chunk: int) -> None:
    store = open_store(uri)
    rng = np.random.default_rng(0)
    for i in range(series):
        run = RunRecord(run_id=new_run_id(), project="bench", name=f"s{i}", created_at=time.time())
        store.create_run(run)
        values = np.cumsum(rng.normal(size=points))
        values[rng.integers(0, points)] = 1e9  # one spike
        for start in range(0, points, chunk):
            steps = np.arange(start, min(points, start + chunk))
            cols = MetricColumns(steps, values[steps], np.full(len(steps), time.time()))
            store.write_batch(run.run_id, RunBatch(metrics={"loss": cols}))
    store.close()


def timed(fn: Any, repeats: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    folder = args.store or Path(tempfile.mkdtemp(prefix="ll-series-"))
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'labledger.db'}"
    if not (folder / "labledger.db").exists():
        t0 = time.perf_counter()
        populate(uri, args.series, args.points, args.chunk)
        print(
            f"populated {args.series} x {args.points:,} points in {time.perf_counter() - t0:.1f} s"
        )
    store = open_store(uri)
    ids = [r.run_id for r in store.search_runs("bench", order_by=["name"])]
    one = ids[0]
    n = args.points
    rows = []

    def old(start: int | None = None, end: int | None = None) -> Any:
        s = store.read_metric(one, "loss", times=False, start=start, end=end)
        return envelope(s.steps, s.values, None, 1000)

    for label, start, end in (
        ("whole series", None, None),
        ("zoom 10%", n // 2, n // 2 + n // 10),
        ("zoom 1%", n // 3, n // 3 + n // 100),
    ):
        new = timed(lambda s=start, e=end: store.read_envelope(one, "loss", 1000, start=s, end=e))
        before = timed(lambda s=start, e=end: old(s, e))
        env = store.read_envelope(one, "loss", 1000, start=start, end=end)
        rows.append((label, new, before, len(env.steps), float(np.nanmax(env.max))))
    pairs = [(i, "loss") for i in ids]
    many = timed(lambda: store.read_envelopes(pairs, 1000), repeats=3)
    for label, new, before, buckets, top in rows:
        print(
            f"{label}: rollups {new * 1000:.2f} ms ({buckets} buckets, max {top:.3g}); "
            f"points then reduce {before * 1000:.1f} ms ({before / new:.0f}x)"
        )
    print(f"{len(pairs)} series x 1000 buckets in one read_envelopes: {many * 1000:.1f} ms")


if __name__ == "__main__":
    main()
