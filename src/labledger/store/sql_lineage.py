"""A run's artifact lineage (the versions it used and produced) as SQL text run by an
``Execute`` (``sql_records``): the registry and a run's seal at ``finish`` read it alike, the
seal on a SQLite store without importing SQLAlchemy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from labledger.store.base import ArtifactVersion
from labledger.store.sql_records import Execute

_IN_BATCH = 500
_COLUMNS = (
    "artifact_versions.artifact_id, artifact_versions.name, artifact_versions.version, "
    "artifact_versions.type, artifact_versions.digest, artifact_versions.size, "
    "CAST(artifact_versions.manifest AS TEXT), CAST(artifact_versions.meta AS TEXT), "
    "artifact_versions.reference, artifact_versions.uri, artifact_versions.run_id, "
    "artifact_versions.created_at"
)


def produced_by(execute: Execute, run_id: str) -> list[ArtifactVersion]:
    rows = execute(
        f"SELECT {_COLUMNS} FROM artifact_versions WHERE artifact_versions.run_id = :run_id "
        "ORDER BY artifact_versions.created_at, artifact_versions.name, artifact_versions.version",
        {"run_id": run_id},
    )
    return versions(execute, rows)


def used_by(execute: Execute, run_id: str) -> list[ArtifactVersion]:
    rows = execute(
        f"SELECT {_COLUMNS} FROM artifact_versions JOIN artifact_usage "
        "ON artifact_usage.artifact_id = artifact_versions.artifact_id "
        "WHERE artifact_usage.run_id = :run_id ORDER BY artifact_usage.used_at, "
        "artifact_versions.name, artifact_versions.version",
        {"run_id": run_id},
    )
    return versions(execute, rows)


def versions(execute: Execute, rows: Sequence[Any]) -> list[ArtifactVersion]:
    """``ArtifactVersion``s of rows selected as ``_COLUMNS``, with their aliases."""
    ids = [row[0] for row in rows]
    aliases: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), _IN_BATCH):
        part = ids[start : start + _IN_BATCH]
        names = ", ".join(f":a{i}" for i in range(len(part)))
        found = execute(
            f"SELECT artifact_id, alias FROM artifact_aliases WHERE artifact_id IN ({names})",
            {f"a{i}": artifact_id for i, artifact_id in enumerate(part)},
        )
        for artifact_id, alias in found:
            aliases[artifact_id].append(alias)
    return [
        ArtifactVersion(
            name=name,
            version=version,
            type=type_,
            digest=digest,
            size=size,
            manifest=list(json.loads(manifest) or []),
            metadata=dict(json.loads(meta) or {}),
            reference=bool(reference),
            uri=uri,
            run_id=owner,
            created_at=created_at,
            aliases=sorted(aliases[artifact_id]),
        )
        for (
            artifact_id,
            name,
            version,
            type_,
            digest,
            size,
            manifest,
            meta,
            reference,
            uri,
            owner,
            created_at,
        ) in rows
    ]
