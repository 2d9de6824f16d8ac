"""Deleting a run from the SQL store: every row recorded for it, in one transaction.

The run's points, summaries, params, captures, console output, idempotency keys and its uses
of artifacts go, and so do the artifact versions it produced (with their aliases and uses);
capture documents no other run shares are removed too. Blobs are left to ``gc``.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from labledger.errors import RunNotFound
from labledger.store.base import ArtifactVersion
from labledger.store.schema import (
    applied_batches,
    artifact_usage,
    artifact_versions,
    captures,
    documents,
    metric_chunks,
    metric_rollups,
    metric_summaries,
    outputs,
    params,
    runs,
)
from labledger.store.sql_artifacts import SqlArtifactRegistry

_RUN_TABLES = (
    metric_chunks,
    metric_rollups,
    metric_summaries,
    params,
    outputs,
    applied_batches,
    artifact_usage,
)


def delete_run_rows(
    conn: Connection, registry: SqlArtifactRegistry, run_id: str
) -> list[ArtifactVersion]:
    """Delete run ``run_id`` (an exact ID) and return the artifact versions deleted with it."""
    if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
        raise RunNotFound(f"no run with ID {run_id!r}")
    produced = [
        int(i)
        for i in conn.execute(
            select(artifact_versions.c.artifact_id).where(artifact_versions.c.run_id == run_id)
        ).scalars()
    ]
    gone = registry.delete_rows(conn, produced)
    digests = set(
        conn.execute(select(captures.c.digest).where(captures.c.run_id == run_id)).scalars()
    )
    conn.execute(delete(captures).where(captures.c.run_id == run_id))
    for table in _RUN_TABLES:  # explicit, not left to ON DELETE CASCADE
        conn.execute(delete(table).where(table.c.run_id == run_id))
    conn.execute(delete(runs).where(runs.c.run_id == run_id))
    if digests:
        shared = set(
            conn.execute(
                select(captures.c.digest).where(captures.c.digest.in_(sorted(digests)))
            ).scalars()
        )
        orphans = sorted(digests - shared)
        if orphans:
            conn.execute(delete(documents).where(documents.c.digest.in_(orphans)))
    return gone
