"""The columnar runs query of ``SqlStore``: the matched runs' rows (JSON columns as text,
decoded later in one call) and their metric summaries, as SQL text run by an ``Execute``
(``sql_records``): a SQLite store answers it on plain ``sqlite3``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labledger.store.columns import RUN_FIELDS, RunColumns
from labledger.store.sql_records import Execute, matched_ids, rows_by_id, rows_in_order

_SELECTED = {"group": "runs.group_name"} | {
    f: f"CAST(runs.{f} AS TEXT)" for f in ("tags", "config", "summary")
}
_SELECT = f"SELECT {', '.join(_SELECTED.get(f, f'runs.{f}') for f in RUN_FIELDS)} FROM runs"
# Only logged series (count > 0): a count 0 row comes from a numeric summary value, and the
# run's summary overrides it anyway (``RunRecord.final_metrics``).
_SUMMARIES = (
    "SELECT metric_summaries.run_id, metric_summaries.key, metric_summaries.last "
    "FROM metric_summaries"
)


def run_columns(
    execute: Execute,
    project: str | None,
    filter: str | None,
    order_by: Sequence[str],
    limit: int | None,
    offset: int,
) -> RunColumns:
    """``Store.run_columns``."""
    order_of = matched_ids(execute, project, filter, order_by, limit, offset)
    out = RunColumns()
    if not order_of:
        return out
    rows = rows_in_order(execute, _SELECT, order_of)
    out.runs = {
        name: list(values) for name, values in zip(RUN_FIELDS, zip(*rows, strict=True), strict=True)
    }
    ids = out.runs["run_id"]
    position = {run_id: i for i, run_id in enumerate(ids)}
    found = rows_by_id(
        execute, _SUMMARIES, ids, "metric_summaries.run_id", "metric_summaries.count > 0"
    )
    if found:
        run_id, key, last = zip(*found, strict=True)
        out.metric_row = np.fromiter(map(position.__getitem__, run_id), np.int64, len(run_id))
        out.metric_key, out.metric_last = list(key), list(last)
    return out
