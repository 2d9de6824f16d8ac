"""``RunColumns``: a runs query as columns (one list per field, metric summaries in long
format), for building a DataFrame without a ``RunRecord`` per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labledger.entities import RunRecord

RUN_FIELDS = (
    "run_id",
    "project",
    "name",
    "status",
    "group",
    "created_at",
    "ended_at",
    "heartbeat_at",
    "host",
    "pid",
    "tags",  # JSON text
    "config",  # JSON text (nested, as stored)
    "summary",  # JSON text
)


@dataclass
class RunColumns:
    """The runs a query matched, in its order: ``runs`` maps each of ``RUN_FIELDS`` to one
    value per run; metric summaries are long format (the run's position, key, ``last``)."""

    runs: dict[str, list[Any]] = field(default_factory=lambda: {f: [] for f in RUN_FIELDS})
    metric_row: Any = field(default_factory=lambda: np.empty(0, np.int64))
    metric_key: list[str] = field(default_factory=list)
    metric_last: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.runs["run_id"])


def columns_from_records(records: Sequence[RunRecord]) -> RunColumns:
    """The same columns built from records (stores without a columnar query)."""
    out = RunColumns()
    out.runs = {
        "run_id": [r.run_id for r in records],
        "project": [r.project for r in records],
        "name": [r.name for r in records],
        "status": [str(r.status) for r in records],
        "group": [r.group for r in records],
        "created_at": [r.created_at for r in records],
        "ended_at": [r.ended_at for r in records],
        "heartbeat_at": [r.heartbeat_at for r in records],
        "host": [r.host for r in records],
        "pid": [r.pid for r in records],
        "tags": [json.dumps(list(r.tags)) for r in records],
        "config": [json.dumps(r.config) for r in records],
        "summary": [json.dumps(r.summary) for r in records],
    }
    rows: list[int] = []
    for i, record in enumerate(records):
        for key, summary in record.metrics.items():
            rows.append(i)
            out.metric_key.append(key)
            out.metric_last.append(summary.last)
    out.metric_row = np.asarray(rows, dtype=np.int64)
    return out
