"""The columnar runs query of ``SqlStore``: one query for the runs (JSON columns as text,
decoded later in one call) and one for their metric summaries."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, Text, cast, select

from labledger.store.columns import RUN_FIELDS, RunColumns
from labledger.store.schema import metric_summaries, runs

_IN_BATCH = 500
_COLUMNS = {"group": runs.c.group_name}
_JSON = ("tags", "config", "summary")


def run_columns(
    conn: Connection, where: Any, order: list[Any], limit: int | None, offset: int
) -> RunColumns:
    fields: list[Any] = [
        cast(runs.c[f], Text).label(f) if f in _JSON else _COLUMNS.get(f, runs.c.get(f))
        for f in RUN_FIELDS
    ]
    # The IDs in order first, then their rows: sorting only IDs and sort keys is several times
    # faster than sorting whole rows (configs and summaries as text) when thousands match.
    query = select(runs.c.run_id).where(where).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    order_of = {run_id: i for i, (run_id,) in enumerate(conn.execute(query).all())}
    out = RunColumns()
    if not order_of:
        return out
    matched = list(order_of)
    rows: list[Any] = []
    for start in range(0, len(matched), _IN_BATCH):
        batch = matched[start : start + _IN_BATCH]
        rows.extend(conn.execute(select(*fields).where(runs.c.run_id.in_(batch))).all())
    rows.sort(key=lambda row: order_of[row[0]])
    out.runs = {
        name: list(values) for name, values in zip(RUN_FIELDS, zip(*rows, strict=True), strict=True)
    }
    ids = out.runs["run_id"]
    position = {run_id: i for i, run_id in enumerate(ids)}
    # Only logged series (count > 0): a count 0 row comes from a numeric summary value, and
    # the run's summary overrides it anyway (``RunRecord.final_metrics``).
    m = metric_summaries.c
    found: list[Any] = []
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        query = select(m.run_id, m.key, m.last).where(m.run_id.in_(batch), m.count > 0)
        found.extend(conn.execute(query).all())
    if found:
        run_id, key, last = zip(*found, strict=True)
        out.metric_row = np.fromiter(map(position.__getitem__, run_id), np.int64, len(run_id))
        out.metric_key, out.metric_last = list(key), list(last)
    return out
