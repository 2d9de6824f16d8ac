"""A metric series read back from the SQL store's chunks as numpy arrays (the rows a flush
writes are made by ``metric_rows``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from labledger.entities import MetricSeries
from labledger.store.metric_rows import decode_steps
from labledger.store.schema import metric_chunks


def read_metric(
    conn: Connection, run_id: str, key: str, times: bool, start: int | None, end: int | None
) -> MetricSeries:
    """``key``'s points, only the chunks that can hold steps in ``start``..``end`` read."""
    c = metric_chunks.c
    columns = [c.count, c.step_min, c.steps, c.vals, *([c.times] if times else [])]
    query = select(*columns).where(c.run_id == run_id, c.key == key).order_by(c.chunk_id)
    if start is not None:
        query = query.where(c.step_max >= start)
    if end is not None:
        query = query.where(c.step_min <= end)
    chunks = conn.execute(query).all()

    def column(parts: list[Any], dtype: str) -> Any:
        return np.concatenate(parts or [np.empty(0, dtype=dtype)])

    series = MetricSeries(
        key,
        column([decode_steps(chunk[2], chunk[0], chunk[1]) for chunk in chunks], "<i8"),
        column([np.frombuffer(chunk[3], dtype="<f8") for chunk in chunks], "<f8"),
        column([np.frombuffer(chunk[4], dtype="<f8") for chunk in chunks], "<f8")
        if times
        else None,
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
