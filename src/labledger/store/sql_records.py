"""Runs read back from the SQL store as ``RunRecord``s: by reference, a query's page, a count.

Plain SQL text (``sql_text``) run by an ``Execute`` callable: the plain ``sqlite3`` read path
and SQLAlchemy (``SqlStore._reading``) run the same statements. No SQLAlchemy import here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labledger.entities import MetricSummary, RunRecord, RunStatus
from labledger.errors import AmbiguousRunId, RunNotFound
from labledger.store.filtering import check_range, parse_filter, parse_order
from labledger.store.sql_text import Binder, compile_order, compile_where

# (sql, parameters) -> the rows, as tuples
Execute = Callable[[str, Mapping[str, Any]], Sequence[Any]]

_RUN_REF = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")
_IN_BATCH = 500
_MAX_LIMIT = 2**63 - 1
# What ``records`` unpacks, in this order; JSON columns as text, decoded per row (both
# drivers, both databases, alike).
SELECT_RUNS = (
    "SELECT runs.run_id, runs.project, runs.name, runs.status, runs.created_at, runs.ended_at, "
    "runs.heartbeat_at, runs.group_name, CAST(runs.tags AS TEXT), runs.notes, "
    "CAST(runs.config AS TEXT), CAST(runs.summary AS TEXT), runs.host, runs.pid, "
    "runs.exit_code, runs.error, runs.reproduces, runs.fingerprint FROM runs"
)
_SELECT_SUMMARIES = (
    "SELECT metric_summaries.run_id, metric_summaries.key, metric_summaries.last, "
    "metric_summaries.min, metric_summaries.max, metric_summaries.count, "
    "metric_summaries.last_step, metric_summaries.last_time FROM metric_summaries"
)


def search(
    execute: Execute,
    project: str | None,
    filter: str | None,
    order_by: Sequence[str],
    limit: int | None,
    offset: int,
) -> list[RunRecord]:
    """``Store.search_runs``."""
    position = matched_ids(execute, project, filter, order_by, limit, offset)
    return records(execute, rows_in_order(execute, SELECT_RUNS, position))


def matched_ids(
    execute: Execute,
    project: str | None,
    filter: str | None,
    order_by: Sequence[str],
    limit: int | None,
    offset: int,
) -> dict[str, int]:
    """The IDs of the runs a query matches, each with its position in the query's order.

    The IDs in order first, then their rows (``rows_by_id``): sorting only IDs and sort keys
    is several times faster than sorting whole rows (configs and summaries as text) when
    thousands match."""
    check_range("limit", limit)
    check_range("offset", offset)
    b = Binder()
    where = compile_where(b, project, parse_filter(filter))
    order = compile_order(b, parse_order(list(order_by)))
    sql = f"SELECT runs.run_id FROM runs WHERE {where} ORDER BY {order}"
    if limit is not None or offset:
        sql += f" LIMIT {b(_MAX_LIMIT if limit is None else limit)} OFFSET {b(offset)}"
    return {row[0]: i for i, row in enumerate(execute(sql, b.params))}


def rows_in_order(execute: Execute, select: str, position: Mapping[str, int]) -> list[Any]:
    """The rows of ``select`` (a ``SELECT runs.run_id, ... FROM runs``) of the runs in
    ``position``, in its order (``matched_ids``)."""
    rows = rows_by_id(execute, select, list(position))
    rows.sort(key=lambda row: position[row[0]])
    return rows


def rows_by_id(
    execute: Execute,
    select: str,
    ids: Sequence[Any],
    column: str = "runs.run_id",
    where: str = "",
) -> list[Any]:
    """The rows of ``select`` (a ``SELECT ... FROM ...``) whose ``column`` is one of ``ids``
    (and that match ``where``), in batches (a statement's parameters are limited), in no
    order."""
    rows: list[Any] = []
    also = f"{where} AND " if where else ""
    for start in range(0, len(ids), _IN_BATCH):
        b = Binder()
        marks = b.many(ids[start : start + _IN_BATCH])
        rows.extend(execute(f"{select} WHERE {also}{column} IN ({marks})", b.params))
    return rows


def count(execute: Execute, project: str | None, filter: str | None) -> int:
    """``Store.count_runs``."""
    b = Binder()
    where = compile_where(b, project, parse_filter(filter))
    rows = execute(f"SELECT count(*) FROM runs WHERE {where}", b.params)
    return int(rows[0][0] or 0)


def projects(execute: Execute) -> list[str]:
    """``Store.list_projects``."""
    rows = execute("SELECT DISTINCT runs.project FROM runs ORDER BY runs.project", {})
    return [row[0] for row in rows]


def find_run(execute: Execute, ref: str) -> RunRecord:
    """The one run whose ID is ``ref``, else whose ID starts with it, else named ``ref``."""
    if not _RUN_REF.match(ref):
        raise RunNotFound(f"{ref!r} is not a run ID")
    rows = execute(f"{SELECT_RUNS} WHERE runs.run_id = :ref", {"ref": ref})
    if not rows and ref.isalnum():
        rows = execute(
            f"{SELECT_RUNS} WHERE runs.run_id LIKE :ref LIMIT 5", {"ref": f"{ref.lower()}%"}
        )
    if not rows:
        rows = execute(f"{SELECT_RUNS} WHERE runs.name = :ref LIMIT 5", {"ref": ref})
    if not rows:
        raise RunNotFound(f"no run matches {ref!r}")
    if len(rows) > 1:
        ids = ", ".join(r[0] for r in rows)
        raise AmbiguousRunId(f"{ref!r} matches several runs ({ids}): give more characters")
    return records(execute, rows)[0]


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def records(execute: Execute, rows: Sequence[Any]) -> list[RunRecord]:
    """One record per row of a ``SELECT_RUNS`` query, with its metric summaries."""
    ids = [r[0] for r in rows]
    stats: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
    summaries = rows_by_id(execute, _SELECT_SUMMARIES, ids, "metric_summaries.run_id")
    for run_id, key, last, low, high, n, last_step, last_time in summaries:
        stats[run_id][key] = MetricSummary(key, last, low, high, n, last_step, last_time)
    return [
        RunRecord(
            run_id=run_id,
            project=project,
            name=name,
            status=RunStatus(status),
            created_at=created_at,
            ended_at=ended_at,
            heartbeat_at=heartbeat_at,
            group=group,
            tags=_json(tags) or [],
            notes=notes,
            config=_json(config) or {},
            summary=_json(summary) or {},
            metrics=stats[run_id],
            host=host,
            pid=pid,
            exit_code=exit_code,
            error=error,
            reproduces=reproduces,
            fingerprint=fingerprint,
        )
        for (
            run_id,
            project,
            name,
            status,
            created_at,
            ended_at,
            heartbeat_at,
            group,
            tags,
            notes,
            config,
            summary,
            host,
            pid,
            exit_code,
            error,
            reproduces,
            fingerprint,
        ) in rows
    ]


def captures(execute: Execute, run_id: str) -> dict[str, dict[str, Any]]:
    """``Store.get_captures``: each captured section of the run, decoded."""
    rows = execute(
        "SELECT captures.section, documents.body FROM captures "
        "JOIN documents ON documents.digest = captures.digest WHERE captures.run_id = :run_id",
        {"run_id": run_id},
    )
    return {section: json.loads(body) for section, body in rows}
