"""What a ``RunBatch`` does to the SQL tables, inside the caller's write transaction.

Everything but metric points: those go through ``sql_series`` (numpy), imported only by a
batch that carries points.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError

from labledger.encoding import flatten, to_jsonable
from labledger.entities import UPDATABLE_RUN_FIELDS, RunStatus
from labledger.errors import LabledgerError, RunNotFound
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.schema import (
    captures,
    documents,
    metric_chunks,
    metric_rollups,
    metric_summaries,
    outputs,
    params,
    runs,
)

_COLUMN_NAMES = {"group": "group_name"}

_PERMANENT = (
    "readonly",
    "read-only",
    "disk is full",
    "disk i/o",
    "no such table",
    "not a database",
)


def permanent(exc: OperationalError) -> bool:
    """Errors retrying will not fix soon (unlike a lock timeout or a dropped connection)."""
    text = str(exc.orig).lower()
    return any(word in text for word in _PERMANENT)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def as_float(value: Any) -> float | None:
    """A finite float, or None (bools count as numbers, like ``True`` -> 1.0)."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def upsert(dialect: str, table: Any) -> Any:
    """An ``INSERT`` that can take ``ON CONFLICT`` clauses, in ``dialect``."""
    # The PostgreSQL dialect module costs ~30 ms to import: only a PostgreSQL store loads it.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _least(dialect: str, a: Any, b: Any) -> Any:
    fn = func.least if dialect == "postgresql" else func.min
    return fn(func.coalesce(a, b), func.coalesce(b, a))


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    fn = func.greatest if dialect == "postgresql" else func.max
    return fn(func.coalesce(a, b), func.coalesce(b, a))


def apply_batch(conn: Connection, dialect: str, run_id: str, batch: RunBatch) -> None:
    """Every part of ``batch``, metrics before the summary (a summary value wins)."""
    if batch.config:
        merge_config(conn, run_id, batch.config)
    if batch.metrics:
        write_metrics(conn, dialect, run_id, batch.metrics)
    if batch.summary:
        set_summary(conn, dialect, run_id, batch.summary)
    if batch.captures:
        put_captures(conn, dialect, run_id, batch.captures)
    if batch.outputs:
        rows = [{"run_id": run_id, "stream": s, "time": t, "text": x} for s, t, x in batch.outputs]
        execute_many(conn, dialect, "outputs", rows)
    if batch.changes:
        update_run(conn, run_id, batch.changes)


def current(conn: Connection, column: Any, run_id: str) -> Any:
    """``column`` of the run, or ``RunNotFound``."""
    value = conn.execute(select(column).where(runs.c.run_id == run_id)).scalar()
    if value is None:
        raise RunNotFound(f"no run with ID {run_id!r}")
    return value


def _run_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` to run fields as column values (refused: fields that cannot change)."""
    unknown = set(changes) - UPDATABLE_RUN_FIELDS
    if unknown:
        raise LabledgerError(f"cannot update run fields: {', '.join(sorted(unknown))}")
    values = {_COLUMN_NAMES.get(k, k): v for k, v in changes.items()}
    if "status" in values:
        values["status"] = str(RunStatus(values["status"]))
    if "summary" in values:
        values["summary"] = to_jsonable(values["summary"])
    return values


def update_run(conn: Connection, run_id: str, changes: Mapping[str, Any]) -> None:
    values = _run_values(changes)
    result = conn.execute(update(runs).where(runs.c.run_id == run_id).values(values))
    if result.rowcount == 0:
        raise RunNotFound(f"no run with ID {run_id!r}")


def merge_config(conn: Connection, run_id: str, config: Mapping[str, Any]) -> None:
    merged = {**current(conn, runs.c.config, run_id), **to_jsonable(config)}
    conn.execute(update(runs).where(runs.c.run_id == run_id).values(config=merged))
    replace_params(conn, run_id, merged)


def _param_row(run_id: str, key: str, value: Any) -> dict[str, Any]:
    number = float(value) if isinstance(value, (int, float)) else None
    as_json = dumps(value)
    return {
        "run_id": run_id,
        "key": key,
        "value_num": number,
        "value_text": value if isinstance(value, str) else as_json,
        "value_json": as_json,
    }


def fold_into_row(row: dict[str, Any], batch: RunBatch) -> tuple[RunBatch, dict[str, Any]]:
    """A new run's first batch with what only sets fields of its row (config, summary,
    changes) merged into ``row`` before the row is inserted, as ``apply_batch`` would set
    them after it (four statements fewer). Returns the rest of the batch, and the summary
    values whose metrics' last values are still to be set, after the batch's metrics."""
    if batch.config:
        row["config"] = {**row["config"], **to_jsonable(batch.config)}
    if batch.summary:
        row["summary"] = {**row["summary"], **to_jsonable(dict(batch.summary))}
    if batch.changes:
        row.update(_run_values(batch.changes))
    rest = RunBatch(metrics=batch.metrics, captures=batch.captures, outputs=batch.outputs)
    return rest, batch.summary


def replace_params(
    conn: Connection, run_id: str, config: Mapping[str, Any], *, new: bool = False
) -> None:
    """The run's flattened config as ``params`` rows (what filters on ``config.*`` read);
    ``new``: the run was just inserted, so it has none to delete."""
    if not new:
        conn.execute(delete(params).where(params.c.run_id == run_id))
    rows = [_param_row(run_id, k, v) for k, v in flatten(config).items()]
    if rows:
        execute_many(conn, conn.dialect.name, "params", rows)


def put_captures(
    conn: Connection, dialect: str, run_id: str, sections: Mapping[str, Mapping[str, Any]]
) -> None:
    """Each section as a content-addressed document (shared by runs that captured the same)."""
    documents_rows, capture_rows = [], []
    for section, data in sections.items():
        body = dumps(to_jsonable(data))
        digest = hashlib.sha256(body.encode()).hexdigest()
        documents_rows.append({"digest": digest, "body": body})
        capture_rows.append({"run_id": run_id, "section": section, "digest": digest})
    execute_many(conn, dialect, "new_documents", documents_rows)
    execute_many(conn, dialect, "replace_captures", capture_rows)


def write_metrics(
    conn: Connection, dialect: str, run_id: str, columns: Mapping[str, MetricColumns]
) -> None:
    """One chunk per key, its rollups, and the key's summary row brought up to date."""
    from labledger.store.sql_series import metric_rows

    chunk_rows, rollup_rows, summary_rows = metric_rows(run_id, columns)
    if not chunk_rows:
        return
    execute_many(conn, dialect, "chunks", chunk_rows)
    execute_many(conn, dialect, "rollups", rollup_rows)
    execute_many(conn, dialect, "merge_summaries", summary_rows)


def set_summary(conn: Connection, dialect: str, run_id: str, values: Mapping[str, Any]) -> None:
    """Merge ``values`` into the run's summary; numeric ones also set their metric's last."""
    merged = {**current(conn, runs.c.summary, run_id), **to_jsonable(dict(values))}
    conn.execute(update(runs).where(runs.c.run_id == run_id).values(summary=merged))
    set_metric_last(conn, dialect, run_id, values)


def set_metric_last(conn: Connection, dialect: str, run_id: str, values: Mapping[str, Any]) -> None:
    """The numeric summary values as their metrics' last values (a summary value wins)."""
    numeric = [
        {"run_id": run_id, "key": k, "last": as_float(v), "count": 0}
        for k, v in values.items()
        if as_float(v) is not None
    ]
    if numeric:
        execute_many(conn, dialect, "set_last", numeric)


_PLAIN_INSERTS = {
    "chunks": metric_chunks,
    "rollups": metric_rollups,
    "params": params,
    "outputs": outputs,
}


def _build(dialect: str, name: str) -> Any:
    if name in _PLAIN_INSERTS:
        return insert(_PLAIN_INSERTS[name])
    if name == "new_documents":
        return upsert(dialect, documents).on_conflict_do_nothing(index_elements=["digest"])
    if name == "replace_captures":
        stmt = upsert(dialect, captures)
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "section"], set_={"digest": stmt.excluded.digest}
        )
    stmt = upsert(dialect, metric_summaries)
    if name == "set_last":
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"last": stmt.excluded["last"]}
        )
    ms = metric_summaries.c
    return stmt.on_conflict_do_update(  # merge_summaries
        index_elements=["run_id", "key"],
        set_={
            "last": stmt.excluded["last"],
            "min": _least(dialect, ms.min, stmt.excluded["min"]),
            "max": _greatest(dialect, ms.max, stmt.excluded["max"]),
            "count": ms.count + stmt.excluded["count"],
            "last_step": stmt.excluded.last_step,
            "last_time": stmt.excluded.last_time,
        },
    )


_built: dict[tuple[str, str], Any] = {}
_compiled: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _statement(dialect: str, name: str) -> Any:
    """The ``ON CONFLICT`` statements, built once per dialect: building one (its
    ``excluded`` columns) cost more than executing it, on every flush."""
    key = (dialect, name)
    stmt = _built.get(key)
    if stmt is None:
        stmt = _built[key] = _build(dialect, name)
    return stmt


def execute_many(conn: Connection, dialect: str, name: str, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(<statement name>, rows)``, the rows handed to the driver as they are: the
    statement is compiled once per dialect and set of columns, and SQLAlchemy's per-row
    parameter processing (which cost more than SQLite's insert) is skipped. Only for these
    statements: their tables have no column whose type converts values (no JSON, no dates)."""
    columns = tuple(rows[0])
    key = (dialect, name, columns)
    compiled = _compiled.get(key)
    if compiled is None:
        statement = _statement(dialect, name).compile(
            dialect=conn.dialect, column_keys=list(columns)
        )
        order = tuple(statement.positiontup) if statement.positional else None
        compiled = _compiled[key] = (statement.string, order)
    sql, order = compiled
    if order is None:
        conn.exec_driver_sql(sql, rows)
    else:
        conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in rows])
