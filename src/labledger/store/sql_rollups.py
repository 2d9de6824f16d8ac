"""Rollup rows of ``SqlStore``: written with each chunk, read for chart envelopes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from labledger.store import rollups
from labledger.store.rollups import LEVELS, SeriesEnvelope
from labledger.store.schema import metric_chunks, metric_rollups, metric_summaries


def batch_rollup_rows(run_id: str, series: list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
    """The rows of every ``(key, steps, values)`` of a flush. Keys logged together (one
    ``steps`` array, as the SDK's writer hands them) are computed together."""
    groups: dict[int, list[tuple[str, Any, Any]]] = {}
    for item in series:
        groups.setdefault(id(item[1]), []).append(item)
    rows: dict[str, list[dict[str, Any]]] = {}
    for group in groups.values():
        key, steps, values = group[0]
        if len(group) == 1:
            rows[key] = rollup_rows(run_id, key, steps, values)
            continue
        matrix = np.stack([g[2] for g in group])
        keys = [g[0] for g in group]
        for key in keys:
            rows[key] = []
        for level, buckets in rollups.chunk_rollups(steps, matrix):
            common = {
                "run_id": run_id,
                "level": level,
                "step_min": int(buckets.bucket[0]) << level,
                "step_max": ((int(buckets.bucket[-1]) + 1) << level) - 1,
                "count": len(steps),
            }
            for key, data in zip(keys, rollups.encode_rows(buckets), strict=True):
                rows[key].append({**common, "key": key, "data": data})
    return [r for key, _, _ in series for r in rows[key]]


def rollup_rows(run_id: str, key: str, steps: Any, values: Any) -> list[dict[str, Any]]:
    """One row per level for a chunk's points."""
    rows = []
    for level, buckets in rollups.chunk_rollups(steps, values):
        rows.append(
            {
                "run_id": run_id,
                "key": key,
                "level": level,
                "step_min": int(buckets.bucket[0]) << level,
                "step_max": ((int(buckets.bucket[-1]) + 1) << level) - 1,
                "count": int(buckets.total.sum()),
                "data": buckets.encode(),
            }
        )
    return rows


def _raw(
    conn: Connection, run_id: str, key: str, start: int | None, end: int | None
) -> tuple[Any, Any]:
    c = metric_chunks.c
    query = select(c.steps, c.vals).where(c.run_id == run_id, c.key == key).order_by(c.chunk_id)
    if start is not None:
        query = query.where(c.step_max >= start)
    if end is not None:
        query = query.where(c.step_min <= end)
    chunks = conn.execute(query).all()
    steps = np.concatenate([np.frombuffer(s, "<i8") for s, _ in chunks] or [np.empty(0, "<i8")])
    values = np.concatenate([np.frombuffer(v, "<f8") for _, v in chunks] or [np.empty(0, "<f8")])
    keep = np.ones(len(steps), dtype=bool)
    if start is not None:
        keep &= steps >= start
    if end is not None:
        keep &= steps <= end
    return (steps, values) if keep.all() else (steps[keep], values[keep])


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
