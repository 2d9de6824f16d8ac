"""Runs read back from the SQL store as ``RunRecord``s: by reference, or for a query's rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, select

from labledger.entities import MetricSummary, RunRecord, RunStatus
from labledger.errors import AmbiguousRunId, RunNotFound
from labledger.store.schema import metric_summaries, runs

_RUN_REF = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")
_IN_BATCH = 500
# What ``records`` unpacks, in this order (plain tuples: a row mapping per field is slower).
_RUN_COLUMNS = tuple(
    runs.c[name]
    for name in (
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
)
_m = metric_summaries.c
_SUMMARY_COLUMNS = (
    _m.run_id,
    _m.key,
    _m.last,
    _m.min,
    _m.max,
    _m.count,
    _m.last_step,
    _m.last_time,
)


def select_runs() -> Select[Any]:
    """The query whose rows ``records`` takes: add a where clause, order, limit."""
    return select(*_RUN_COLUMNS)


def find_run(conn: Connection, ref: str) -> RunRecord:
    """The one run whose ID is ``ref``, else whose ID starts with it, else named ``ref``."""
    if not _RUN_REF.match(ref):
        raise RunNotFound(f"{ref!r} is not a run ID")
    rows = conn.execute(select_runs().where(runs.c.run_id == ref)).all()
    if not rows and ref.isalnum():
        prefix = runs.c.run_id.like(f"{ref.lower()}%")
        rows = conn.execute(select_runs().where(prefix).limit(5)).all()
    if not rows:
        rows = conn.execute(select_runs().where(runs.c.name == ref).limit(5)).all()
    if not rows:
        raise RunNotFound(f"no run matches {ref!r}")
    if len(rows) > 1:
        ids = ", ".join(r[0] for r in rows)
        raise AmbiguousRunId(f"{ref!r} matches several runs ({ids}): give more characters")
    return records(conn, rows)[0]


def records(conn: Connection, rows: Sequence[Any]) -> list[RunRecord]:
    """One record per row of a ``select_runs()`` query, with its metric summaries (the JSON
    columns are decoded per row: the record owns them, no copy)."""
    ids = [r[0] for r in rows]
    stats: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
    for start in range(0, len(ids), _IN_BATCH):
        query = select(*_SUMMARY_COLUMNS).where(_m.run_id.in_(ids[start : start + _IN_BATCH]))
        for run_id, key, last, low, high, count, last_step, last_time in conn.execute(query).all():
            stats[run_id][key] = MetricSummary(key, last, low, high, count, last_step, last_time)
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
            tags=tags or [],
            notes=notes,
            config=config or {},
            summary=summary or {},
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
