"""``SqlStore``: the Store implementation shared by SQLite and PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from labledger.encoding import flatten, to_jsonable
from labledger.entities import (
    UPDATABLE_RUN_FIELDS,
    MetricSeries,
    MetricSummary,
    RunRecord,
    RunStatus,
)
from labledger.errors import (
    AmbiguousRunId,
    LabledgerError,
    PartiallyApplied,
    RunExists,
    RunNotFound,
    StoreUnavailable,
)
from labledger.store import sql_columns, sql_rollups, sql_table
from labledger.store.base import ArtifactVersion, MetricColumns, RunBatch
from labledger.store.columns import RunColumns
from labledger.store.filtering import check_range, parse_filter, parse_order
from labledger.store.rollups import SeriesEnvelope
from labledger.store.schema import (
    applied_batches,
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
from labledger.store.sql_auth import SqlAuthStore
from labledger.store.sql_experiments import SqlExperimentStore
from labledger.store.sql_query import compile_filter, compile_order
from labledger.store.table import RunActivity, RunTable, TableQuery

_RUN_REF = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,200}$")
_IN_BATCH = 500
_COLUMN_NAMES = {"group": "group_name"}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _param_row(run_id: str, key: str, value: Any) -> dict[str, Any]:
    number = float(value) if isinstance(value, (int, float)) else None
    text = value if isinstance(value, str) else _dumps(value)
    return {
        "run_id": run_id,
        "key": key,
        "value_num": number,
        "value_text": text,
        "value_json": _dumps(value),
    }


_PERMANENT = (
    "readonly",
    "read-only",
    "disk is full",
    "disk i/o",
    "no such table",
    "not a database",
)


def _permanent(exc: OperationalError) -> bool:
    """Errors retrying will not fix soon (unlike a lock timeout or a dropped connection)."""
    text = str(exc.orig).lower()
    return any(word in text for word in _PERMANENT)


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class SqlStore:
    """Runs, params, metric chunks, captures and outputs in one SQL database."""

    def __init__(self, uri: str, engine: Engine) -> None:
        self.uri = uri
        self._engine = engine
        self.artifacts = SqlArtifactRegistry(engine, self._write)
        self.auth = SqlAuthStore(engine, self._write)
        self.experiments = SqlExperimentStore(engine, self._write)

    # --- plumbing ---------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (SQLite takes its write lock up front: BEGIN IMMEDIATE)."""
        with self._engine.connect() as conn:
            conn.execution_options(labledger_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    def _insert(self, table: Any) -> Any:
        # The PostgreSQL dialect module costs ~30 ms to import: only a PostgreSQL store loads it.
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def _least(self, a: Any, b: Any) -> Any:
        fn = func.least if self._engine.dialect.name == "postgresql" else func.min
        return fn(func.coalesce(a, b), func.coalesce(b, a))

    def _greatest(self, a: Any, b: Any) -> Any:
        fn = func.greatest if self._engine.dialect.name == "postgresql" else func.max
        return fn(func.coalesce(a, b), func.coalesce(b, a))

    def close(self) -> None:
        self._engine.dispose()

    # --- write side -------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        self._create_run(run, None)

    def create_run_batch(self, run: RunRecord, batch: RunBatch) -> None:
        """``create_run`` and ``write_batch`` of its first flush in one transaction (one
        fsync): the SDK's writer creates a run this way."""
        with self._batch_write():
            self._create_run(run, batch)

    def _create_run(self, run: RunRecord, batch: RunBatch | None) -> None:
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
        try:
            with self._write() as conn:
                if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run.run_id)).first():
                    raise RunExists(f"a run with ID {run.run_id!r} already exists")
                conn.execute(insert(runs), [row])
                self._replace_params(conn, run.run_id, row["config"])
                if batch is not None and batch:
                    self._apply(conn, run.run_id, batch)
        except IntegrityError:
            # Lost a race with a concurrent create of the same ID.
            if self._run_exists(run.run_id):
                raise RunExists(f"a run with ID {run.run_id!r} already exists") from None
            raise

    def _run_exists(self, run_id: str) -> bool:
        with self._read() as conn:
            query = select(runs.c.run_id).where(runs.c.run_id == run_id)
            return conn.execute(query).first() is not None

    @contextmanager
    def _batch_write(self) -> Iterator[None]:
        """A writer flush: refused when the store cannot take writes, and database or disk
        errors raised as ``StoreUnavailable`` (the writer spools on it)."""
        self._check_writable()
        try:
            yield
        except OperationalError as exc:
            raise StoreUnavailable(
                f"the store cannot take writes: {exc.orig}", permanent=_permanent(exc)
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
        with self._write() as conn:
            self._apply(conn, run_id, batch)

    def write_batch_once(self, run_id: str, key: str | Sequence[str], batch: RunBatch) -> bool:
        keys = [key] if isinstance(key, str) else list(key)
        with self._write() as conn:
            # The key rows and the batch commit together; a concurrent duplicate waits on the
            # keys' row locks (PostgreSQL) or the write lock (SQLite), then finds them.
            self._current(conn, runs.c.run_id, run_id)
            now = time.time()
            claim = (
                self._insert(applied_batches)
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
            self._apply(conn, run_id, batch)
            return True

    def _apply(self, conn: Connection, run_id: str, batch: RunBatch) -> None:
        if batch.config:
            self._merge_config(conn, run_id, batch.config)
        if batch.metrics:
            self._write_metrics(conn, run_id, batch.metrics)
        if batch.summary:
            self._set_summary(conn, run_id, batch.summary)
        if batch.captures:
            self._put_captures(conn, run_id, batch.captures)
        if batch.outputs:
            rows = [
                {"run_id": run_id, "stream": s, "time": t, "text": x} for s, t, x in batch.outputs
            ]
            conn.execute(insert(outputs), rows)
        if batch.changes:
            self._update_run(conn, run_id, batch.changes)

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

    # --- write helpers, each inside the caller's transaction ----------------------------
    def _update_run(self, conn: Connection, run_id: str, changes: Mapping[str, Any]) -> None:
        unknown = set(changes) - UPDATABLE_RUN_FIELDS
        if unknown:
            raise LabledgerError(f"cannot update run fields: {', '.join(sorted(unknown))}")
        values = {_COLUMN_NAMES.get(k, k): v for k, v in changes.items()}
        if "status" in values:
            values["status"] = str(RunStatus(values["status"]))
        if "summary" in values:
            values["summary"] = to_jsonable(values["summary"])
        result = conn.execute(update(runs).where(runs.c.run_id == run_id).values(values))
        if result.rowcount == 0:
            raise RunNotFound(f"no run with ID {run_id!r}")

    def _current(self, conn: Connection, column: Any, run_id: str) -> Any:
        current = conn.execute(select(column).where(runs.c.run_id == run_id)).scalar()
        if current is None:
            raise RunNotFound(f"no run with ID {run_id!r}")
        return current

    def _merge_config(self, conn: Connection, run_id: str, config: Mapping[str, Any]) -> None:
        merged = {**self._current(conn, runs.c.config, run_id), **to_jsonable(config)}
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(config=merged))
        self._replace_params(conn, run_id, merged)

    def _replace_params(self, conn: Connection, run_id: str, config: Mapping[str, Any]) -> None:
        conn.execute(delete(params).where(params.c.run_id == run_id))
        rows = [_param_row(run_id, k, v) for k, v in flatten(config).items()]
        if rows:
            conn.execute(insert(params), rows)

    def _put_captures(
        self, conn: Connection, run_id: str, sections: Mapping[str, Mapping[str, Any]]
    ) -> None:
        documents_rows, capture_rows = [], []
        for section, data in sections.items():
            body = _dumps(to_jsonable(data))
            digest = hashlib.sha256(body.encode()).hexdigest()
            documents_rows.append({"digest": digest, "body": body})
            capture_rows.append({"run_id": run_id, "section": section, "digest": digest})
        new_documents = self._insert(documents).on_conflict_do_nothing(index_elements=["digest"])
        stmt = self._insert(captures)
        upsert = stmt.on_conflict_do_update(
            index_elements=["run_id", "section"], set_={"digest": stmt.excluded.digest}
        )
        conn.execute(new_documents, documents_rows)
        conn.execute(upsert, capture_rows)

    def _write_metrics(
        self, conn: Connection, run_id: str, columns: Mapping[str, MetricColumns]
    ) -> None:
        chunk_rows: list[dict[str, Any]] = []
        summary_rows: list[dict[str, Any]] = []
        rollup_rows: list[dict[str, Any]] = []
        for key, col in columns.items():
            steps = np.ascontiguousarray(col.steps, dtype="<i8")
            values = np.ascontiguousarray(col.values, dtype="<f8")
            times = np.ascontiguousarray(col.times, dtype="<f8")
            n = len(steps)
            if n == 0:
                continue
            if len(values) != n or len(times) != n:
                raise LabledgerError(f"metric {key!r}: steps, values and times differ in length")
            chunk_rows.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "count": n,
                    "step_min": int(steps.min()),
                    "step_max": int(steps.max()),
                    "steps": steps.tobytes(),
                    "vals": values.tobytes(),
                    "times": times.tobytes(),
                }
            )
            rollup_rows.extend(sql_rollups.rollup_rows(run_id, key, steps, values))
            finite = values[np.isfinite(values)]
            summary_rows.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "last": _as_float(values[-1]),
                    "min": float(finite.min()) if finite.size else None,
                    "max": float(finite.max()) if finite.size else None,
                    "count": n,
                    "last_step": int(steps[-1]),
                    "last_time": float(times[-1]),
                }
            )
        if not chunk_rows:
            return
        stmt = self._insert(metric_summaries)
        ms = metric_summaries.c
        upsert = stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "last": stmt.excluded["last"],
                "min": self._least(ms.min, stmt.excluded["min"]),
                "max": self._greatest(ms.max, stmt.excluded["max"]),
                "count": ms.count + stmt.excluded["count"],
                "last_step": stmt.excluded.last_step,
                "last_time": stmt.excluded.last_time,
            },
        )
        conn.execute(insert(metric_chunks), chunk_rows)
        conn.execute(insert(metric_rollups), rollup_rows)
        conn.execute(upsert, summary_rows)

    def _set_summary(self, conn: Connection, run_id: str, values: Mapping[str, Any]) -> None:
        merged = {**self._current(conn, runs.c.summary, run_id), **to_jsonable(dict(values))}
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(summary=merged))
        numeric = [
            {"run_id": run_id, "key": k, "last": _as_float(v), "count": 0}
            for k, v in values.items()
            if _as_float(v) is not None
        ]
        if numeric:
            stmt = self._insert(metric_summaries)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"last": stmt.excluded["last"]}
                ),
                numeric,
            )

    def delete_run(self, run_id: str) -> list[ArtifactVersion]:
        from labledger.store.sql_delete import delete_run_rows

        with self._write() as conn:
            return delete_run_rows(conn, self.artifacts, run_id)

    # --- read side --------------------------------------------------------------------
    def get_run(self, ref: str) -> RunRecord:
        if not _RUN_REF.match(ref):
            raise RunNotFound(f"{ref!r} is not a run ID")
        with self._read() as conn:
            rows = conn.execute(select(runs).where(runs.c.run_id == ref)).mappings().all()
            if not rows and ref.isalnum():
                prefix = runs.c.run_id.like(f"{ref.lower()}%")
                rows = conn.execute(select(runs).where(prefix).limit(5)).mappings().all()
            if not rows:
                rows = (
                    conn.execute(select(runs).where(runs.c.name == ref).limit(5)).mappings().all()
                )
            if not rows:
                raise RunNotFound(f"no run matches {ref!r}")
            if len(rows) > 1:
                ids = ", ".join(r["run_id"] for r in rows)
                raise AmbiguousRunId(f"{ref!r} matches several runs ({ids}): give more characters")
            return self._records(conn, rows)[0]

    def _records(self, conn: Connection, rows: Sequence[Any]) -> list[RunRecord]:
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

    def _where(self, project: str | None, filter: str | None) -> Any:
        condition = compile_filter(parse_filter(filter))
        if project is not None:
            condition = (runs.c.project == project) & condition
        return condition

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        check_range("limit", limit)
        check_range("offset", offset)
        query = select(runs).where(self._where(project, filter))
        query = query.order_by(*compile_order(parse_order(list(order_by))))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self._read() as conn:
            return self._records(conn, conn.execute(query).mappings().all())

    def run_columns(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> RunColumns:
        """``search_runs`` as columns: one query per table, no record per run."""
        check_range("limit", limit)
        check_range("offset", offset)
        where = self._where(project, filter)
        order = compile_order(parse_order(list(order_by)))
        with self._read() as conn:
            return sql_columns.run_columns(conn, where, order, limit, offset)

    def run_table(self, query: TableQuery) -> RunTable:
        """The runs table page ``query`` asks for (see ``labledger.store.table``)."""
        where = self._where(query.project, query.filter)
        with self._read() as conn:
            return sql_table.run_table(conn, where, query, self._engine.dialect.name)

    def column_values(self, query: TableQuery) -> list[tuple[Any, ...]]:
        where = self._where(query.project, query.filter)
        with self._read() as conn:
            return sql_table.column_values(conn, where, query, self._engine.dialect.name)

    def column_keys(self, project: str) -> tuple[list[str], list[str]]:
        with self._read() as conn:
            return sql_table.column_keys(conn, project)

    def run_activity(self) -> list[RunActivity]:
        with self._read() as conn:
            return sql_table.run_activity(conn)

    def count_runs(self, project: str | None = None, filter: str | None = None) -> int:
        query = select(func.count()).select_from(runs).where(self._where(project, filter))
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def list_projects(self) -> list[str]:
        with self._read() as conn:
            query = select(runs.c.project).distinct().order_by(runs.c.project)
            return [row[0] for row in conn.execute(query)]

    def get_captures(self, run_id: str) -> dict[str, dict[str, Any]]:
        query = (
            select(captures.c.section, documents.c.body)
            .join(documents, documents.c.digest == captures.c.digest)
            .where(captures.c.run_id == run_id)
        )
        with self._read() as conn:
            return {section: json.loads(body) for section, body in conn.execute(query)}

    def metric_keys(self, run_id: str) -> list[str]:
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
        c = metric_chunks.c
        columns = [c.steps, c.vals, c.times] if times else [c.steps, c.vals]
        query = select(*columns).where(c.run_id == run_id, c.key == key).order_by(c.chunk_id)
        if start is not None:  # only chunks that can hold steps in the range are read
            query = query.where(c.step_max >= start)
        if end is not None:
            query = query.where(c.step_min <= end)
        with self._read() as conn:
            chunks = conn.execute(query).all()

        def column(index: int, dtype: str) -> Any:
            return np.concatenate(
                [np.frombuffer(chunk[index], dtype=dtype) for chunk in chunks]
                or [np.empty(0, dtype=dtype)]
            )

        series = MetricSeries(
            key, column(0, "<i8"), column(1, "<f8"), column(2, "<f8") if times else None
        )
        if start is None and end is None:
            return series
        return _step_range(series, start, end)

    def read_envelope(
        self,
        run_id: str,
        key: str,
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> SeriesEnvelope:
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
        with self._read() as conn:
            return sql_rollups.read_envelopes(conn, series, points, start, end)

    def read_output(
        self, run_id: str, *, since: float | None = None
    ) -> list[tuple[str, float, str]]:
        query = (
            select(outputs.c.stream, outputs.c.time, outputs.c.text)
            .where(outputs.c.run_id == run_id)
            .order_by(outputs.c.output_id)
        )
        if since is not None:
            query = query.where(outputs.c.time > since)
        with self._read() as conn:
            return [(s, t, x) for s, t, x in conn.execute(query)]


def _step_range(series: MetricSeries, start: int | None, end: int | None) -> MetricSeries:
    keep = np.ones(len(series.steps), dtype=bool)
    if start is not None:
        keep &= series.steps >= start
    if end is not None:
        keep &= series.steps <= end
    if keep.all():
        return series
    times = None if series.times is None else series.times[keep]
    return MetricSeries(series.key, series.steps[keep], series.values[keep], times)
