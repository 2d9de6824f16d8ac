"""The rows one flush of metric points adds: a chunk per key (three raw little-endian
buffers), its rollups at each level, and the key's summary. numpy only: the SQLite store's
write path imports no SQLAlchemy.

A chunk whose steps run one by one (``step_min``, ``step_min + 1``, ... ``step_max``, as a
training loop logs them) stores an empty ``steps`` buffer (revision 0008): a third of a
flush's bytes, and of its commit's fsync, that the chunk's ``count`` and ``step_min`` say."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labledger.errors import LabledgerError
from labledger.store import rollups
from labledger.store.base import MetricColumns
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
                "steps": encode_steps(steps),
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
    return chunk_rows, batch_rollup_rows(run_id, series), summary_rows


def encode_steps(steps: Any) -> bytes:
    """A chunk's ``steps`` buffer: empty when the steps run one by one from the first."""
    n = len(steps)
    if n and int(steps[-1]) - int(steps[0]) == n - 1 and bool((np.diff(steps) == 1).all()):
        return b""
    return np.ascontiguousarray(steps, dtype="<i8").tobytes()


def decode_steps(buffer: bytes, count: int, step_min: int) -> Any:
    """The steps of a chunk of ``count`` points (``encode_steps``'s inverse)."""
    if not buffer and count:
        return np.arange(count, dtype=np.int64) + np.int64(step_min)
    return np.frombuffer(buffer, dtype="<i8")


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
