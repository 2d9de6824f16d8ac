"""What a ``RunBatch`` does to the SQL tables, inside the caller's write transaction.

Plain SQL text run through ``Writes`` (``writes.py``): the same statements on a plain
``sqlite3`` connection and on SQLAlchemy's, for SQLite and PostgreSQL. Metric points are
turned into rows by ``metric_rows`` (numpy), imported only by a batch that carries points.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from labledger.encoding import flatten, to_jsonable
from labledger.entities import UPDATABLE_RUN_FIELDS, RunStatus
from labledger.errors import LabledgerError, RunNotFound
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.writes import Writes

_COLUMN_NAMES = {"group": "group_name"}
JSON_COLUMNS = frozenset({"tags", "config", "summary"})
RUN_COLUMNS = (
    "run_id",
    "project",
    "name",
    "status",
    "created_at",
    "ended_at",
    "heartbeat_at",
    "group_name",
    "tags",
    "notes",
    "config",
    "summary",
    "host",
    "pid",
    "exit_code",
    "error",
    "reproduces",
    "fingerprint",
)

_PERMANENT = (
    "readonly",
    "read-only",
    "disk is full",
    "disk i/o",
    "no such table",
    "not a database",
)


def permanent(message: str) -> bool:
    """Errors retrying will not fix soon (unlike a lock timeout or a dropped connection)."""
    text = message.lower()
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
    """A SQLAlchemy ``INSERT`` that can take ``ON CONFLICT`` clauses, in ``dialect``."""
    # The PostgreSQL dialect module costs ~30 ms to import: only a PostgreSQL store loads it.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _slot(w: Writes, column: str) -> str:
    """The parameter of ``column`` in an INSERT or UPDATE: JSON columns take JSON text (SQLite
    stores it as it is; PostgreSQL's ``json`` needs the cast from text)."""
    if column in JSON_COLUMNS and w.dialect == "postgresql":
        return "CAST(? AS JSON)"
    return "?"


def _value(column: str, value: Any) -> Any:
    # json.dumps' defaults: what SQLAlchemy's JSON type stored (the tags filter matches it).
    return json.dumps(value) if column in JSON_COLUMNS else value


def apply_batch(w: Writes, run_id: str, batch: RunBatch) -> None:
    """Every part of ``batch``, metrics before the summary (a summary value wins)."""
    if batch.config:
        merge_config(w, run_id, batch.config)
    if batch.metrics:
        write_metrics(w, run_id, batch.metrics)
    if batch.summary:
        set_summary(w, run_id, batch.summary)
    if batch.captures:
        put_captures(w, run_id, batch.captures)
    if batch.outputs:
        rows = [(run_id, s, t, x) for s, t, x in batch.outputs]
        insert_rows(w, "INSERT INTO outputs (run_id, stream, time, text)", rows)
    if batch.changes:
        update_run(w, run_id, batch.changes)


def current(w: Writes, column: str, run_id: str) -> Any:
    """``column`` of the run (JSON columns decoded), or ``RunNotFound``."""
    selected = f"CAST({column} AS TEXT)" if column in JSON_COLUMNS else column
    row = w.first(f"SELECT {selected} FROM runs WHERE run_id = ?", (run_id,))
    if row is None:
        raise RunNotFound(f"no run with ID {run_id!r}")
    return json.loads(row[0]) if column in JSON_COLUMNS else row[0]


def insert_run(w: Writes, row: Mapping[str, Any]) -> None:
    """The run's row (every column of ``RUN_COLUMNS``); an existing ID fails it."""
    slots = ", ".join(_slot(w, c) for c in RUN_COLUMNS)
    w.execute(
        f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({slots})",
        [_value(c, row[c]) for c in RUN_COLUMNS],
    )


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
    if "tags" in values:
        values["tags"] = list(values["tags"])
    return values


def _update(w: Writes, run_id: str, values: Mapping[str, Any]) -> int:
    assigned = ", ".join(f"{c} = {_slot(w, c)}" for c in values)
    params = [_value(c, v) for c, v in values.items()]
    return w.execute(f"UPDATE runs SET {assigned} WHERE run_id = ?", [*params, run_id])


def update_run(w: Writes, run_id: str, changes: Mapping[str, Any]) -> None:
    if _update(w, run_id, _run_values(changes)) == 0:
        raise RunNotFound(f"no run with ID {run_id!r}")


def merge_config(w: Writes, run_id: str, config: Mapping[str, Any]) -> None:
    merged = {**current(w, "config", run_id), **to_jsonable(config)}
    _update(w, run_id, {"config": merged})
    replace_params(w, run_id, merged)


def _param_row(run_id: str, key: str, value: Any) -> tuple[Any, ...]:
    number = float(value) if isinstance(value, (int, float)) else None
    as_json = dumps(value)
    return (run_id, key, number, value if isinstance(value, str) else as_json, as_json)


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


def replace_params(w: Writes, run_id: str, config: Mapping[str, Any], *, new: bool = False) -> None:
    """The run's flattened config as ``params`` rows (what filters on ``config.*`` read);
    ``new``: the run was just inserted, so it has none to delete."""
    if not new:
        w.execute("DELETE FROM params WHERE run_id = ?", (run_id,))
    rows = [_param_row(run_id, k, v) for k, v in flatten(config).items()]
    insert_rows(w, 'INSERT INTO params (run_id, "key", value_num, value_text, value_json)', rows)


def put_captures(w: Writes, run_id: str, sections: Mapping[str, Mapping[str, Any]]) -> None:
    """Each section as a content-addressed document (shared by runs that captured the same)."""
    documents, captures = [], []
    for section, data in sections.items():
        body = dumps(to_jsonable(data))
        digest = hashlib.sha256(body.encode()).hexdigest()
        documents.append((digest, body))
        captures.append((run_id, section, digest))
    insert_rows(
        w, "INSERT INTO documents (digest, body)", documents, " ON CONFLICT (digest) DO NOTHING"
    )
    insert_rows(
        w,
        "INSERT INTO captures (run_id, section, digest)",
        captures,
        " ON CONFLICT (run_id, section) DO UPDATE SET digest = excluded.digest",
    )


_SUMMARY_INSERT = (
    'INSERT INTO metric_summaries (run_id, "key", last, min, max, count, last_step, last_time)'
)
_SUMMARY_CONFLICT = ' ON CONFLICT (run_id, "key") DO UPDATE SET '

_SUMMARY_COLUMNS = ("run_id", "key", "last", "min", "max", "count", "last_step", "last_time")


def _merge_summaries_sql(dialect: str) -> str:
    """What merges a flush's summary row into the key's existing one."""
    least, greatest = ("least", "greatest") if dialect == "postgresql" else ("min", "max")
    ms = "metric_summaries"
    return _SUMMARY_CONFLICT + (
        "last = excluded.last, "
        f"min = {least}(coalesce({ms}.min, excluded.min), coalesce(excluded.min, {ms}.min)), "
        f"max = {greatest}(coalesce({ms}.max, excluded.max), coalesce(excluded.max, {ms}.max)), "
        f"count = {ms}.count + excluded.count, "
        "last_step = excluded.last_step, last_time = excluded.last_time"
    )


MAX_PARAMETERS = 999  # per statement: what every SQLite build and PostgreSQL take


def insert_rows(w: Writes, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """``head VALUES (?, ...), (?, ...) tail`` for ``rows``: a statement per up to
    ``MAX_PARAMETERS`` parameters rather than one step per row. SQLite's driver lets go of the
    GIL for every step, and a writer thread beside a busy training loop then waits a switch
    interval (5 ms) each time: a flush of 20 keys (~160 rows) took ~0.7 s that way, ~50 ms in
    multi-row statements (``bench/writer_contention.py``). The rows must not conflict with
    each other (PostgreSQL refuses an upsert that changes one row twice)."""
    if not rows:
        return
    width = len(rows[0])
    group = "(" + ", ".join("?" * width) + ")"
    per = max(1, MAX_PARAMETERS // width)
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        values = ", ".join([group] * len(part))
        w.execute(f"{head} VALUES {values}{tail}", [v for row in part for v in row])


def _insert_head(table: str, columns: Sequence[str]) -> str:
    quoted = ", ".join('"key"' if c == "key" else c for c in columns)
    return f"INSERT INTO {table} ({quoted})"


def _tuples(rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    columns = tuple(rows[0])
    return columns, [tuple(row[c] for c in columns) for row in rows]


def write_metrics(w: Writes, run_id: str, columns: Mapping[str, MetricColumns]) -> None:
    """One chunk per key, its rollups, and the key's summary row brought up to date."""
    from labledger.store.metric_rows import metric_rows

    chunk_rows, rollup_rows, summary_rows = metric_rows(run_id, columns)
    if not chunk_rows:
        return
    for table, rows in (("metric_chunks", chunk_rows), ("metric_rollups", rollup_rows)):
        if rows:  # _tuples reads the columns off the first row
            names, values = _tuples(rows)
            insert_rows(w, _insert_head(table, names), values)
    insert_rows(  # a key once per flush: the upsert changes each row once
        w,
        _SUMMARY_INSERT,
        [tuple(row[c] for c in _SUMMARY_COLUMNS) for row in summary_rows],
        _merge_summaries_sql(w.dialect),
    )


def set_summary(w: Writes, run_id: str, values: Mapping[str, Any]) -> None:
    """Merge ``values`` into the run's summary; numeric ones also set their metric's last."""
    merged = {**current(w, "summary", run_id), **to_jsonable(dict(values))}
    _update(w, run_id, {"summary": merged})
    set_metric_last(w, run_id, values)


def set_metric_last(w: Writes, run_id: str, values: Mapping[str, Any]) -> None:
    """The numeric summary values as their metrics' last values (a summary value wins)."""
    numeric = [
        (run_id, k, as_float(v), None, None, 0, None, None)
        for k, v in values.items()
        if as_float(v) is not None
    ]
    insert_rows(w, _SUMMARY_INSERT, numeric, _SUMMARY_CONFLICT + "last = excluded.last")
