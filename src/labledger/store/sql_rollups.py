"""Rollup rows of ``SqlStore`` read for chart envelopes (``metric_rows`` writes them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from labledger.store import rollups
from labledger.store.rollups import LEVELS, SeriesEnvelope
from labledger.store.schema import metric_rollups, metric_summaries
from labledger.store.sql_series import read_metric


def _raw(
    conn: Connection, run_id: str, key: str, start: int | None, end: int | None
) -> tuple[Any, Any]:
    series = read_metric(conn, run_id, key, False, start, end)
    return series.steps, series.values


def read_envelope(
    conn: Connection, run_id: str, key: str, points: int, start: int | None, end: int | None
) -> SeriesEnvelope:
    """``key`` between steps ``start`` and ``end``: the points themselves when the range
    spans at most ``points`` steps or the series has at most ``points`` points, otherwise
    at most ``points`` merged rollup buckets (the raw points are not read)."""
    m, r = metric_summaries.c, metric_rollups.c
    count = conn.execute(select(m.count).where(m.run_id == run_id, m.key == key)).scalar()
    if not count:
        return SeriesEnvelope.of_points(key, np.empty(0, np.int64), np.empty(0))
    lo, hi = start, end
    if lo is None or hi is None:
        top = select(func.min(r.step_min), func.max(r.step_max)).where(
            r.run_id == run_id, r.key == key, r.level == LEVELS[-1]
        )
        first, last = conn.execute(top).one()
        if first is None:  # no rollups (a series stored by a writer that had none)
            return _from_raw(conn, run_id, key, points, start, end)
        lo = first if lo is None else lo
        hi = last if hi is None else hi
    span = max(0, hi - lo + 1)
    if count <= points or span <= points:
        return _from_raw(conn, run_id, key, points, start, end)
    level = rollups.level_for(span, points) or LEVELS[-1]
    query = (
        select(r.data)
        .where(
            r.run_id == run_id,
            r.key == key,
            r.level == level,
            r.step_max >= lo,
            r.step_min <= hi,
        )
        .order_by(r.rollup_id)
    )
    parts = [rollups.Buckets.decode(row[0]) for row in conn.execute(query)]
    if not parts:
        return _from_raw(conn, run_id, key, points, start, end)
    merged = rollups.clip(rollups.merge(parts), level, start, end)
    merged, level = rollups.fit(merged, level, points)
    return SeriesEnvelope.of_buckets(key, merged, level)


def _from_raw(
    conn: Connection, run_id: str, key: str, points: int, start: int | None, end: int | None
) -> SeriesEnvelope:
    """The same answer computed from the raw points (short ranges; series without rollups)."""

    def read(lo: int | None, hi: int | None) -> tuple[Any, Any]:
        return _raw(conn, run_id, key, lo, hi)

    return rollups.envelope_of_points(key, read, points, start, end)


def read_envelopes(
    conn: Connection,
    series: Sequence[tuple[str, str]],
    points: int,
    start: int | None,
    end: int | None,
) -> list[SeriesEnvelope]:
    return [read_envelope(conn, run, key, points, start, end) for run, key in series]
