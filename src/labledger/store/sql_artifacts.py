"""``SqlArtifactRegistry``: artifact versions, aliases and lineage in the SQL store.

Version numbers are allocated inside the store's write transaction. On SQLite that
transaction holds the database write lock from its first statement (BEGIN IMMEDIATE), so
writers queue. On PostgreSQL the unique index on (name, version) is what guarantees
correctness: when two writers pick the same next number the later insert fails and its whole
transaction is retried, after which it sees the winner's row (and returns it when the digest
is the same). Writers of the same name also queue on a transaction-level advisory lock first,
so eight processes logging one name do not spend their time in retries.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from labledger.errors import ArtifactError, ArtifactNotFound, RunNotFound
from labledger.store import sql_artifact_reads
from labledger.store.base import ArtifactVersion
from labledger.store.schema import artifact_aliases, artifact_usage, artifact_versions, runs
from labledger.store.sql_records import Execute
from labledger.store.sql_write import upsert

WriteTransaction = Callable[[], AbstractContextManager[Connection]]

LATEST = "latest"
MAX_ATTEMPTS = 20
_ADVISORY_NAMESPACE = 0x1AB1  # pg_advisory_xact_lock(namespace, hashtext(name))
_VERSION = re.compile(r"^v(\d+)$")

av = artifact_versions.c


class SqlArtifactRegistry:
    """Implements ``ArtifactRegistry`` over artifact_versions, artifact_aliases, artifact_usage."""

    def __init__(self, engine: Engine, write: WriteTransaction) -> None:
        self._engine = engine
        self._write = write

    # --- plumbing ---------------------------------------------------------------------
    def _upsert(self, table: Any) -> Any:
        return upsert(self._engine.dialect.name, table)

    def _load(self, conn: Connection, artifact_id: int) -> ArtifactVersion:
        return sql_artifact_reads.by_ids(_execute(conn), [artifact_id])[0]

    def _check_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise RunNotFound(f"no run with ID {run_id!r}")

    def _find_id(self, conn: Connection, name: str, selector: str | None) -> int:
        """The artifact_id for ``vN``, an alias, or None (``latest``); ArtifactError if none."""
        selector = selector or LATEST
        number = _VERSION.match(selector)
        if number:
            query = select(av.artifact_id).where(av.name == name, av.version == int(number[1]))
        else:
            query = select(artifact_aliases.c.artifact_id).where(
                artifact_aliases.c.name == name, artifact_aliases.c.alias == selector
            )
        found = conn.execute(query).scalar()
        if found is not None:
            return int(found)
        latest = conn.execute(select(func.max(av.version)).where(av.name == name)).scalar()
        if latest is None:
            raise ArtifactNotFound(f"no artifact named {name!r}")
        if number:
            raise ArtifactNotFound(
                f"artifact {name!r} has no version {selector} (latest is v{latest})"
            )
        names = conn.execute(
            select(artifact_aliases.c.alias)
            .where(artifact_aliases.c.name == name)
            .order_by(artifact_aliases.c.alias)
        ).scalars()
        raise ArtifactNotFound(
            f"artifact {name!r} has no alias {selector!r} (aliases: {', '.join(names)})"
        )

    def _point_alias(self, conn: Connection, name: str, alias: str, artifact_id: int) -> None:
        stmt = self._upsert(artifact_aliases).values(
            name=name, alias=alias, artifact_id=artifact_id
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name", "alias"], set_={"artifact_id": stmt.excluded.artifact_id}
            )
        )

    # --- write side -------------------------------------------------------------------
    def add_version(self, version: ArtifactVersion) -> ArtifactVersion:
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._write() as conn:
                    return self._add_version(conn, version)
            except IntegrityError as exc:
                # Another writer took the same version number (PostgreSQL): retry afresh.
                if attempt == MAX_ATTEMPTS - 1:
                    raise ArtifactError(
                        f"could not allocate a version of {version.name!r}: {exc.orig}"
                    ) from exc
                time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
        raise AssertionError("unreachable")

    def _add_version(self, conn: Connection, v: ArtifactVersion) -> ArtifactVersion:
        if self._engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
                {"ns": _ADVISORY_NAMESPACE, "name": v.name},
            )
        if v.run_id is not None:
            self._check_run(conn, v.run_id)
        artifact_id = conn.execute(
            select(av.artifact_id)
            .where(av.name == v.name, av.digest == v.digest)
            .order_by(av.version)
            .limit(1)
        ).scalar()
        if artifact_id is None:
            latest = conn.execute(select(func.max(av.version)).where(av.name == v.name)).scalar()
            result = conn.execute(
                insert(artifact_versions).values(
                    name=v.name,
                    version=0 if latest is None else latest + 1,
                    type=v.type,
                    digest=v.digest,
                    size=v.size,
                    manifest=v.manifest,
                    meta=v.metadata,
                    reference=v.reference,
                    uri=v.uri,
                    run_id=v.run_id,
                    created_at=v.created_at or time.time(),
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None
            artifact_id = inserted[0]
        self._point_alias(conn, v.name, LATEST, int(artifact_id))
        return self._load(conn, int(artifact_id))

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with self._write() as conn:
            artifact_id = self._find_id(conn, name, f"v{version}")
            self._point_alias(conn, name, alias, artifact_id)

    def record_use(self, run_id: str, name: str, version: int) -> None:
        with self._write() as conn:
            self._check_run(conn, run_id)
            artifact_id = self._find_id(conn, name, f"v{version}")
            stmt = self._upsert(artifact_usage).values(
                run_id=run_id, artifact_id=artifact_id, used_at=time.time()
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "artifact_id"]))

    def delete_version(self, name: str, version: int) -> ArtifactVersion:
        with self._write() as conn:
            artifact_id = self._find_id(conn, name, f"v{version}")
            return self.delete_rows(conn, [artifact_id])[0]

    def delete_rows(self, conn: Connection, artifact_ids: list[int]) -> list[ArtifactVersion]:
        """Delete versions (their aliases and uses go with them) inside ``conn``'s transaction;
        ``latest`` of each name moves to its newest remaining version."""
        if not artifact_ids:
            return []
        gone = sql_artifact_reads.by_ids(_execute(conn), artifact_ids)
        gone.sort(key=lambda v: (v.name, v.version))
        conn.execute(delete(artifact_usage).where(artifact_usage.c.artifact_id.in_(artifact_ids)))
        conn.execute(
            delete(artifact_aliases).where(artifact_aliases.c.artifact_id.in_(artifact_ids))
        )
        conn.execute(delete(artifact_versions).where(av.artifact_id.in_(artifact_ids)))
        for name in sorted({v.name for v in gone}):
            newest = conn.execute(
                select(av.artifact_id).where(av.name == name).order_by(av.version.desc()).limit(1)
            ).scalar()
            if newest is not None:
                self._point_alias(conn, name, LATEST, int(newest))
        return gone

    # --- read side --------------------------------------------------------------------
    def get_version(self, name: str, selector: str | None = None) -> ArtifactVersion:
        with self._engine.connect() as conn:
            return self._load(conn, self._find_id(conn, name, selector))

    def list_versions(self, name: str | None = None) -> list[ArtifactVersion]:
        with self._engine.connect() as conn:
            return sql_artifact_reads.listed(_execute(conn), name)

    def consumers(self, name: str, version: int) -> list[str]:
        usage = artifact_usage.c
        with self._engine.connect() as conn:
            artifact_id = self._find_id(conn, name, f"v{version}")
            query = (
                select(usage.run_id)
                .where(usage.artifact_id == artifact_id)
                .order_by(usage.used_at, usage.run_id)
            )
            return [str(run_id) for run_id in conn.execute(query).scalars()]

    def produced_by(self, run_id: str) -> list[ArtifactVersion]:
        with self._engine.connect() as conn:
            return sql_artifact_reads.produced_by(_execute(conn), run_id)

    def used_by(self, run_id: str) -> list[ArtifactVersion]:
        with self._engine.connect() as conn:
            return sql_artifact_reads.used_by(_execute(conn), run_id)

    def referenced_digests(self) -> set[str]:
        digests: set[str] = set()
        # stored versions, and references with a stored copy (temporary datasets)
        query = select(av.manifest, av.reference, av.meta)
        with self._engine.connect() as conn:
            for manifest, reference, meta in conn.execute(query):
                if reference and not (meta or {}).get("stored_copy"):
                    continue
                for entry in manifest or []:
                    if entry.get("digest"):
                        digests.add(str(entry["digest"]))
        return digests


def _execute(conn: Connection) -> Execute:
    return lambda sql, params: conn.execute(text(sql), params).all()
