"""``SqlStore``: the Store implementation shared by SQLite and PostgreSQL (SQLAlchemy Core).

The class holds the connections and transactions; what a batch writes is in ``sql_write``
(SQL text, run by ``_batch``), records and the runs table's columns are read in
``sql_records`` and ``sql_columns`` (SQL text, run by ``_reading``), and metric points (the
only numpy user) in ``metric_rows`` and ``sql_series``, imported when a series is written or
read. SQLAlchemy is imported by the first method that needs it: a subclass may answer
``_batch`` and ``_reading`` without it (``SqliteStore``), and create its engines on first use
(``_create_engines``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from labledger.encoding import to_jsonable
from labledger.entities import MetricSeries, RunRecord
from labledger.errors import PartiallyApplied, RunExists, StoreUnavailable
from labledger.store import sql_records
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch
from labledger.store.filtering import parse_filter
from labledger.store.sql_text import Binder, compile_where

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from labledger.store.columns import RunColumns
    from labledger.store.rollups import SeriesEnvelope
    from labledger.store.sql_artifacts import SqlArtifactRegistry
    from labledger.store.sql_auth import SqlAuthStore
    from labledger.store.sql_experiments import SqlExperimentStore
    from labledger.store.sql_records import Execute
    from labledger.store.table import RunActivity, RunTable, TableQuery
    from labledger.store.writes import Writes


class SqlStore:
    """Runs, params, metric chunks, captures and outputs in one SQL database."""

    def __init__(
        self, uri: str, engine: Engine | None, writes: Engine | None = None, dialect: str = ""
    ) -> None:
        """``writes``: an engine for write transactions (SQLite's are tuned apart); without
        ``engine`` (and a ``dialect``), ``_create_engines`` makes both on first use."""
        self.uri = uri
        self._engines = None if engine is None else (engine, writes or engine)
        self._engines_lock = threading.Lock()
        self._dialect = dialect or (engine.dialect.name if engine is not None else "")

    def _create_engines(self) -> tuple[Engine, Engine]:
        """The (read, write) engines of a store opened without them."""
        raise NotImplementedError

    def _ensure_engines(self) -> tuple[Engine, Engine]:
        engines = self._engines
        if engines is None:
            with self._engines_lock:
                if self._engines is None:
                    self._engines = self._create_engines()
                engines = self._engines
        return engines

    @property
    def _engine(self) -> Engine:
        return self._ensure_engines()[0]

    @property
    def _writes(self) -> Engine:
        return self._ensure_engines()[1]

    # The registries beside the runs, each loaded on first use (a runs query needs none).
    @cached_property
    def artifacts(self) -> SqlArtifactRegistry:
        from labledger.store.sql_artifacts import SqlArtifactRegistry

        return SqlArtifactRegistry(self._engine, self._write)

    @cached_property
    def auth(self) -> SqlAuthStore:
        from labledger.store.sql_auth import SqlAuthStore

        return SqlAuthStore(self._engine, self._write)

    @cached_property
    def experiments(self) -> SqlExperimentStore:
        from labledger.store.sql_experiments import SqlExperimentStore

        return SqlExperimentStore(self._engine, self._write)

    # --- plumbing ---------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (SQLite takes its write lock up front: BEGIN IMMEDIATE)."""
        with self._writes.connect() as conn:
            conn.execution_options(labledger_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _batch(self) -> Iterator[Writes]:
        """A write transaction for a batch's statements (``sql_write``)."""
        from labledger.store.writes import AlchemyWrites

        with self._write() as conn:
            yield AlchemyWrites(conn)

    def _batch_errors(self) -> tuple[type[Exception], type[Exception]]:
        """The (integrity, operational) errors ``_batch``'s statements raise."""
        from sqlalchemy.exc import IntegrityError, OperationalError

        return IntegrityError, OperationalError

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Execute]:
        """Run ``sql_records``' statements in one read transaction."""
        from sqlalchemy import text

        with self._read() as conn:
            yield lambda sql, params: conn.execute(text(sql), params).all()

    def close(self) -> None:
        if self._engines is not None:
            for engine in self._engines:
                engine.dispose()

    # --- write side -------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        self._create_run(run, None)

    def create_run_batch(self, run: RunRecord, batch: RunBatch) -> None:
        """``create_run`` and ``write_batch`` of its first flush in one transaction (one
        fsync): the SDK's writer creates a run this way."""
        with self._batch_write():
            self._create_run(run, batch)

    def _create_run(self, run: RunRecord, batch: RunBatch | None) -> None:
        from labledger.store import sql_write

        row = {
            "run_id": run.run_id,
            "project": run.project,
            "name": run.name,
            "status": str(run.status),
            "created_at": run.created_at,
            "ended_at": run.ended_at,
            "heartbeat_at": run.heartbeat_at,
            "group_name": run.group,
            "tags": list(run.tags),
            "notes": run.notes,
            "config": to_jsonable(run.config),
            "summary": to_jsonable(run.summary),
            "host": run.host,
            "pid": run.pid,
            "exit_code": run.exit_code,
            "error": run.error,
            "reproduces": run.reproduces,
            "fingerprint": run.fingerprint,
        }
        integrity_error = self._batch_errors()[0]
        try:
            rest, summary = sql_write.fold_into_row(row, batch or RunBatch())
            with self._batch() as w:
                sql_write.insert_run(w, row)  # an existing ID fails it (below)
                sql_write.replace_params(w, run.run_id, row["config"], new=True)
                if rest:
                    sql_write.apply_batch(w, run.run_id, rest)
                if summary:
                    sql_write.set_metric_last(w, run.run_id, summary)
        except integrity_error:
            # Lost a race with a concurrent create of the same ID.
            if self._run_exists(run.run_id):
                raise RunExists(f"a run with ID {run.run_id!r} already exists") from None
            raise

    def _run_exists(self, run_id: str) -> bool:
        with self._reading() as execute:
            return bool(execute("SELECT 1 FROM runs WHERE run_id = :run_id", {"run_id": run_id}))

    @contextmanager
    def _batch_write(self) -> Iterator[None]:
        """A writer flush: refused when the store cannot take writes, and database or disk
        errors raised as ``StoreUnavailable`` (the writer spools on it)."""
        from labledger.store import sql_write

        operational_error = self._batch_errors()[1]
        self._check_writable()
        try:
            yield
        except operational_error as exc:
            message = str(getattr(exc, "orig", exc))
            raise StoreUnavailable(
                f"the store cannot take writes: {message}", permanent=sql_write.permanent(message)
            ) from exc
        except OSError as exc:
            raise StoreUnavailable(f"the store cannot take writes: {exc}", permanent=True) from exc

    def _check_writable(self) -> None:
        """Raise ``StoreUnavailable`` when writes could not reach the store (SQLite: its file
        deleted or replaced since it was opened)."""

    def write_batch(self, run_id: str, batch: RunBatch) -> None:
        with self._batch_write():
            self._write_batch(run_id, batch)

    def _write_batch(self, run_id: str, batch: RunBatch) -> None:
        from labledger.store import sql_write

        with self._batch() as w:
            sql_write.apply_batch(w, run_id, batch)

    def write_batch_once(self, run_id: str, key: str | Sequence[str], batch: RunBatch) -> bool:
        from labledger.store import sql_write
        from labledger.store.schema import applied_batches
        from labledger.store.writes import AlchemyWrites

        keys = [key] if isinstance(key, str) else list(key)
        with self._write() as conn:
            # The key rows and the batch commit together; a concurrent duplicate waits on the
            # keys' row locks (PostgreSQL) or the write lock (SQLite), then finds them.
            w = AlchemyWrites(conn)
            sql_write.current(w, "run_id", run_id)
            now = time.time()
            claim = (
                sql_write.upsert(self._dialect, applied_batches)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(applied_batches.c.key)
            )
            claimed = 0
            for k in keys:
                row = {"key": k, "run_id": run_id, "applied_at": now}
                claimed += conn.execute(claim.values(row)).first() is not None
            if claimed == 0:
                return False
            if claimed < len(keys):
                raise PartiallyApplied(
                    f"run {run_id}: {len(keys) - claimed} of {len(keys)} batches were already "
                    "applied; send them one by one"
                )
            sql_write.apply_batch(w, run_id, batch)
            return True

    def update_run(self, run_id: str, changes: Mapping[str, Any]) -> None:
        self.write_batch(run_id, RunBatch(changes=dict(changes)))

    def log_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        self.write_batch(run_id, RunBatch(config=dict(config)))

    def put_captures(self, run_id: str, sections: Mapping[str, Mapping[str, Any]]) -> None:
        self.write_batch(run_id, RunBatch(captures={k: dict(v) for k, v in sections.items()}))

    def write_metrics(self, run_id: str, columns: Mapping[str, MetricColumns]) -> None:
        self.write_batch(run_id, RunBatch(metrics=dict(columns)))

    def set_summary(self, run_id: str, values: Mapping[str, Any]) -> None:
        self.write_batch(run_id, RunBatch(summary=dict(values)))

    def append_output(self, run_id: str, lines: Sequence[tuple[str, float, str]]) -> None:
        self.write_batch(run_id, RunBatch(outputs=list(lines)))

    def delete_run(self, run_id: str) -> list[ArtifactVersion]:
        from labledger.store.sql_delete import delete_run_rows

        with self._write() as conn:
            return delete_run_rows(conn, self.artifacts, run_id)

    # --- read side --------------------------------------------------------------------
    def get_run(self, ref: str) -> RunRecord:
        with self._reading() as execute:
            return sql_records.find_run(execute, ref)

    def _where(self, project: str | None, filter: str | None, b: Binder | None = None) -> Any:
        """The compiled filter as a SQLAlchemy clause (``b``: parameters shared with an
        ORDER BY of the same statement)."""
        b = b or Binder()
        first = len(b.params)
        return _clause(b, first, compile_where(b, project, parse_filter(filter)))

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        with self._reading() as execute:
            return sql_records.search(execute, project, filter, order_by, limit, offset)

    def run_columns(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> RunColumns:
        """``search_runs`` as columns: one query per table, no record per run."""
        from labledger.store import sql_columns

        with self._reading() as execute:
            return sql_columns.run_columns(execute, project, filter, order_by, limit, offset)

    # The UI's runs table (``labledger.store.table``), loaded by the first page asked for.
    def run_table(self, query: TableQuery) -> RunTable:
        """The runs table page ``query`` asks for (see ``labledger.store.table``)."""
        from labledger.store import sql_table

        where = self._where(query.project, query.filter)
        with self._read() as conn:
            return sql_table.run_table(conn, where, query, self._dialect)

    def column_values(self, query: TableQuery) -> list[tuple[Any, ...]]:
        from labledger.store import sql_table

        where = self._where(query.project, query.filter)
        with self._read() as conn:
            return sql_table.column_values(conn, where, query, self._dialect)

    def column_keys(self, project: str) -> tuple[list[str], list[str]]:
        from labledger.store import sql_table

        with self._read() as conn:
            return sql_table.column_keys(conn, project)

    def run_activity(self) -> list[RunActivity]:
        from labledger.store import sql_table

        with self._read() as conn:
            return sql_table.run_activity(conn)

    def count_runs(self, project: str | None = None, filter: str | None = None) -> int:
        with self._reading() as execute:
            return sql_records.count(execute, project, filter)

    def list_projects(self) -> list[str]:
        with self._reading() as execute:
            return sql_records.projects(execute)

    def get_captures(self, run_id: str) -> dict[str, dict[str, Any]]:
        with self._reading() as execute:
            return sql_records.captures(execute, run_id)

    def lineage(self, run_id: str) -> tuple[list[ArtifactVersion], list[ArtifactVersion]]:
        """(used, produced) artifact versions of a run, read without loading ``artifacts``
        (a run's seal at ``finish``)."""
        from labledger.store import sql_artifact_reads

        with self._reading() as execute:
            return sql_artifact_reads.used_by(execute, run_id), sql_artifact_reads.produced_by(
                execute, run_id
            )

    def metric_keys(self, run_id: str) -> list[str]:
        from sqlalchemy import select

        from labledger.store.schema import metric_summaries

        query = (
            select(metric_summaries.c.key)
            .where(metric_summaries.c.run_id == run_id, metric_summaries.c.count > 0)
            .order_by(metric_summaries.c.key)
        )
        with self._read() as conn:
            return [row[0] for row in conn.execute(query)]

    def read_metric(
        self,
        run_id: str,
        key: str,
        *,
        times: bool = True,
        start: int | None = None,
        end: int | None = None,
    ) -> MetricSeries:
        from labledger.store import sql_series

        with self._read() as conn:
            return sql_series.read_metric(conn, run_id, key, times, start, end)

    def read_envelope(
        self,
        run_id: str,
        key: str,
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> SeriesEnvelope:
        from labledger.store import sql_rollups

        with self._read() as conn:
            return sql_rollups.read_envelope(conn, run_id, key, points, start, end)

    def read_envelopes(
        self,
        series: Sequence[tuple[str, str]],
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> list[SeriesEnvelope]:
        from labledger.store import sql_rollups

        with self._read() as conn:
            return sql_rollups.read_envelopes(conn, series, points, start, end)

    def read_output(
        self, run_id: str, *, since: float | None = None
    ) -> list[tuple[str, float, str]]:
        from sqlalchemy import select

        from labledger.store.schema import outputs

        query = (
            select(outputs.c.stream, outputs.c.time, outputs.c.text)
            .where(outputs.c.run_id == run_id)
            .order_by(outputs.c.output_id)
        )
        if since is not None:
            query = query.where(outputs.c.time > since)
        with self._read() as conn:
            return [(s, t, x) for s, t, x in conn.execute(query)]


def _clause(b: Binder, first: int, sql: str) -> Any:
    """``sql`` as a SQLAlchemy text clause bound to the parameters ``b`` named from ``first``
    on (the ones ``sql`` holds: a text clause refuses others)."""
    from sqlalchemy import text

    return text(sql).bindparams(**dict(list(b.params.items())[first:]))
