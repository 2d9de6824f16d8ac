"""Metric points in the SQL store: each flush's points as one chunk row per key (three raw
little-endian buffers), with its rollups and summary; a series read back as numpy arrays.

The only part of ``SqlStore`` that needs numpy, so opening a store and querying runs does not
import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from labledger.entities import MetricSeries
from labledger.errors import LabledgerError
from labledger.store import sql_rollups
from labledger.store.base import MetricColumns
from labledger.store.schema import metric_chunks
from labledger.store.sql_write import as_float

Rows = list[dict[str, Any]]


def metric_rows(run_id: str, columns: Mapping[str, MetricColumns]) -> tuple[Rows, Rows, Rows]:
    """The chunk, rollup and summary rows of one flush's points."""
    chunk_rows: Rows = []
    summary_rows: Rows = []
    series: list[tuple[str, Any, Any]] = []
    for key, col in columns.items():
        steps = np.ascontiguousarray(col.steps, dtype="<i8")
        values = np.ascontiguousarray(col.values, dtype="<f8")
        times = np.ascontiguousarray(col.times, dtype="<f8")
        n = len(steps)
        if n == 0:
            continue
        if len(values) != n or len(times) != n:
            raise LabledgerError(f"metric {key!r}: steps, values and times differ in length")
        chunk_rows.append(
            {
                "run_id": run_id,
                "key": key,
                "count": n,
                "step_min": int(steps.min()),
                "step_max": int(steps.max()),
                "steps": steps.tobytes(),
                "vals": values.tobytes(),
                "times": times.tobytes(),
            }
        )
        series.append((key, steps, values))
        finite = values[np.isfinite(values)]
        summary_rows.append(
            {
                "run_id": run_id,
                "key": key,
                "last": as_float(values[-1]),
                "min": float(finite.min()) if finite.size else None,
                "max": float(finite.max()) if finite.size else None,
                "count": n,
                "last_step": int(steps[-1]),
                "last_time": float(times[-1]),
            }
        )
    return chunk_rows, sql_rollups.batch_rollup_rows(run_id, series), summary_rows


def read_metric(
    conn: Connection, run_id: str, key: str, times: bool, start: int | None, end: int | None
) -> MetricSeries:
    """``key``'s points, only the chunks that can hold steps in ``start``..``end`` read."""
    c = metric_chunks.c
    columns = [c.steps, c.vals, c.times] if times else [c.steps, c.vals]
    query = select(*columns).where(c.run_id == run_id, c.key == key).order_by(c.chunk_id)
    if start is not None:
        query = query.where(c.step_max >= start)
    if end is not None:
        query = query.where(c.step_min <= end)
    chunks = conn.execute(query).all()

    def column(index: int, dtype: str) -> Any:
        return np.concatenate(
            [np.frombuffer(chunk[index], dtype=dtype) for chunk in chunks]
            or [np.empty(0, dtype=dtype)]
        )

    series = MetricSeries(
        key, column(0, "<i8"), column(1, "<f8"), column(2, "<f8") if times else None
    )
    if start is None and end is None:
        return series
    return _step_range(series, start, end)


def _step_range(series: MetricSeries, start: int | None, end: int | None) -> MetricSeries:
    keep = np.ones(len(series.steps), dtype=bool)
    if start is not None:
        keep &= series.steps >= start
    if end is not None:
        keep &= series.steps <= end
    if keep.all():
        return series
    times = None if series.times is None else series.times[keep]
    return MetricSeries(series.key, series.steps[keep], series.values[keep], times)
