"""Runs read back from the SQL store as ``RunRecord``s: by reference, or for a query's rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from labledger.entities import MetricSummary, RunRecord, RunStatus
from labledger.errors import AmbiguousRunId, RunNotFound
from labledger.store.schema import metric_summaries, runs

_RUN_REF = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")
_IN_BATCH = 500


def find_run(conn: Connection, ref: str) -> RunRecord:
    """The one run whose ID is ``ref``, else whose ID starts with it, else named ``ref``."""
    if not _RUN_REF.match(ref):
        raise RunNotFound(f"{ref!r} is not a run ID")
    rows = conn.execute(select(runs).where(runs.c.run_id == ref)).mappings().all()
    if not rows and ref.isalnum():
        prefix = runs.c.run_id.like(f"{ref.lower()}%")
        rows = conn.execute(select(runs).where(prefix).limit(5)).mappings().all()
    if not rows:
        rows = conn.execute(select(runs).where(runs.c.name == ref).limit(5)).mappings().all()
    if not rows:
        raise RunNotFound(f"no run matches {ref!r}")
    if len(rows) > 1:
        ids = ", ".join(r["run_id"] for r in rows)
        raise AmbiguousRunId(f"{ref!r} matches several runs ({ids}): give more characters")
    return records(conn, rows)[0]


def records(conn: Connection, rows: Sequence[Any]) -> list[RunRecord]:
    """One record per ``runs`` row (as a mapping), with its metric summaries."""
    ids = [r["run_id"] for r in rows]
    stats: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        query = select(metric_summaries).where(metric_summaries.c.run_id.in_(batch))
        for m in conn.execute(query).mappings():
            stats[m["run_id"]][m["key"]] = MetricSummary(
                key=m["key"],
                last=m["last"],
                min=m["min"],
                max=m["max"],
                count=m["count"],
                last_step=m["last_step"],
                last_time=m["last_time"],
            )
    return [
        RunRecord(
            run_id=r["run_id"],
            project=r["project"],
            name=r["name"],
            status=RunStatus(r["status"]),
            created_at=r["created_at"],
            ended_at=r["ended_at"],
            heartbeat_at=r["heartbeat_at"],
            group=r["group_name"],
            tags=list(r["tags"] or []),
            notes=r["notes"],
            config=dict(r["config"] or {}),
            summary=dict(r["summary"] or {}),
            metrics=stats[r["run_id"]],
            host=r["host"],
            pid=r["pid"],
            exit_code=r["exit_code"],
            error=r["error"],
            reproduces=r["reproduces"],
            fingerprint=r["fingerprint"],
        )
        for r in rows
    ]
