"""Artifact versions read as SQL text run by an ``Execute`` (``sql_records``): by ID, by
name, and a run's lineage (the versions it used and produced). The registry reads them so,
and a run's seal at ``finish`` reads the lineage on a SQLite store without SQLAlchemy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from labledger.store.base import ArtifactVersion
from labledger.store.sql_records import Execute, rows_by_id

_COLUMNS = (
    "artifact_versions.artifact_id, artifact_versions.name, artifact_versions.version, "
    "artifact_versions.type, artifact_versions.digest, artifact_versions.size, "
    "CAST(artifact_versions.manifest AS TEXT), CAST(artifact_versions.meta AS TEXT), "
    "artifact_versions.reference, artifact_versions.uri, artifact_versions.run_id, "
    "artifact_versions.created_at"
)
_SELECT = f"SELECT {_COLUMNS} FROM artifact_versions"


def produced_by(execute: Execute, run_id: str) -> list[ArtifactVersion]:
    rows = execute(
        f"{_SELECT} WHERE artifact_versions.run_id = :run_id "
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


def by_ids(execute: Execute, ids: Sequence[int]) -> list[ArtifactVersion]:
    """The versions of ``ids``, in no order."""
    return versions(execute, rows_by_id(execute, _SELECT, ids, "artifact_versions.artifact_id"))


def listed(execute: Execute, name: str | None = None) -> list[ArtifactVersion]:
    """Every version (of ``name``), by name and version number."""
    where = "" if name is None else " WHERE artifact_versions.name = :name"
    order = " ORDER BY artifact_versions.name, artifact_versions.version"
    return versions(execute, execute(_SELECT + where + order, {"name": name}))


def versions(execute: Execute, rows: Sequence[Any]) -> list[ArtifactVersion]:
    """``ArtifactVersion``s of rows selected as ``_COLUMNS``, with their aliases."""
    ids = [row[0] for row in rows]
    aliases: dict[int, list[str]] = {i: [] for i in ids}
    found = rows_by_id(
        execute,
        "SELECT artifact_aliases.artifact_id, artifact_aliases.alias FROM artifact_aliases",
        ids,
        "artifact_aliases.artifact_id",
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
