"""Building runs straight through the Store, so tests control every field."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.store.base import MetricColumns, Store


def make_run(
    store: Store,
    project: str = "p",
    *,
    name: str = "run",
    config: dict[str, Any] | None = None,
    metrics: dict[str, list[float]] | None = None,
    status: RunStatus = RunStatus.FINISHED,
    created_at: float | None = None,
    **fields: Any,
) -> RunRecord:
    record = RunRecord(
        run_id=new_run_id(),
        project=project,
        name=name,
        status=status,
        created_at=time.time() if created_at is None else created_at,
        config=config or {},
        **fields,
    )
    store.create_run(record)
    if metrics:
        store.write_metrics(record.run_id, {k: columns(v) for k, v in metrics.items()})
    return record


def columns(values: list[float] | Any, start: int = 0) -> MetricColumns:
    array = np.asarray(values, dtype=float)
    n = len(array)
    return MetricColumns(np.arange(start, start + n), array, np.linspace(1e9, 1e9 + n, n))
