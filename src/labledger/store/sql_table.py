"""``TableQuery`` in SQL: filter, sort and paging in the database; the chosen columns are
then read for the page's runs only, in one query per namespace.

Sorting by a config key or metric summary joins that one value per run (an outer join on the
primary keys), so a 10,000-run table sorts without building any record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, cast, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from labledger.entities import RunRecord, RunStatus
from labledger.store.schema import captures, documents, metric_summaries, params, runs
from labledger.store.sql_text import ATTRIBUTE_SQL
from labledger.store.table import Column, RunActivity, RunTable, TableQuery, TableRow

_IN_BATCH = 500
_ROW_COLUMNS = (
    runs.c.run_id,
    runs.c.project,
    runs.c.name,
    runs.c.status,
    runs.c.created_at,
    runs.c.ended_at,
    runs.c.heartbeat_at,
    runs.c.group_name,
    runs.c.tags,
    runs.c.host,
    runs.c.pid,
    runs.c.exit_code,
    runs.c.error,
    runs.c.reproduces,
    runs.c.fingerprint,
)


def _user_expression(dialect: str) -> Any:
    body = documents.c.body
    extracted: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # ~30 ms to import: PostgreSQL stores only

        extracted = cast(body, postgresql.JSON)["user"].astext
    else:
        extracted = func.json_extract(body, "$.user")
    return (
        select(extracted)
        .select_from(captures.join(documents, documents.c.digest == captures.c.digest))
        .where(captures.c.run_id == runs.c.run_id, captures.c.section == "run")
        .scalar_subquery()
    )


def _joined(
    query: Select[Any], column: Column, name: str, dialect: str, parts: tuple[str, ...]
) -> tuple[Select[Any], list[Any]]:
    """``query`` joined to ``column``'s value (one row per run at most: primary keys), and
    the expressions for it; ``parts`` picks the params columns of a config key."""
    if column.namespace == "metrics":
        ms = metric_summaries.alias(f"{name}_m")
        query = query.outerjoin(ms, and_(ms.c.run_id == runs.c.run_id, ms.c.key == column.key))
        return query, [ms.c[column.agg]]
    if column.namespace == "config":
        pa = params.alias(f"{name}_p")
        query = query.outerjoin(pa, and_(pa.c.run_id == runs.c.run_id, pa.c.key == column.key))
        return query, [pa.c[part] for part in parts]
    if column.key == "runtime":
        end = func.coalesce(runs.c.ended_at, runs.c.heartbeat_at)
        return query, [end - runs.c.created_at]
    if column.key == "user":
        return query, [_user_expression(dialect)]
    return query, [literal_column(ATTRIBUTE_SQL[column.key])]


def _order(query: Select[Any], table: TableQuery, dialect: str) -> Select[Any]:
    clauses: list[Any] = []
    for index, sort in enumerate(table.sort):
        parts = ("value_num", "value_text")
        query, expressions = _joined(query, sort.column, f"sort{index}", dialect, parts)
        for expression in expressions:
            ordered = expression.desc() if sort.descending else expression.asc()
            clauses.append(ordered.nulls_last())
    clauses += [runs.c.created_at.desc(), runs.c.run_id]
    return query.order_by(*clauses)


def _batches(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + _IN_BATCH] for i in range(0, len(ids), _IN_BATCH)]


def _values(
    conn: Connection, ids: Sequence[str], columns: Sequence[Column], matching: Any = None
) -> dict[str, dict[str, Any]]:
    """``{run_id: {column: value}}`` for ``ids``; ``matching`` (a subquery of run IDs that
    selects the same runs) replaces the ID lists when there are many."""
    values: dict[str, dict[str, Any]] = {i: {} for i in ids}
    config = {c.key: str(c) for c in columns if c.namespace == "config"}
    metrics: dict[str, list[Column]] = {}
    for c in columns:
        if c.namespace == "metrics":
            metrics.setdefault(c.key, []).append(c)
    selections: list[Any] = [matching] if matching is not None else _batches(ids)
    for batch in selections:
        if config:
            query = select(params.c.run_id, params.c.key, params.c.value_json).where(
                params.c.run_id.in_(batch), params.c.key.in_(list(config))
            )
            for run_id, key, raw in conn.execute(query):
                if run_id in values:  # ``matching`` also selects runs before ``offset``
                    values[run_id][config[key]] = json.loads(raw)
        if metrics:
            ms = metric_summaries.c
            query = select(ms.run_id, ms.key, ms.last, ms.min, ms.max).where(
                ms.run_id.in_(batch), ms.key.in_(list(metrics))
            )
            for run_id, key, *found_values in conn.execute(query):
                if run_id not in values:
                    continue
                found = dict(zip(("last", "min", "max"), found_values, strict=True))
                for c in metrics[key]:
                    values[run_id][str(c)] = found[c.agg]
    for row in values.values():
        for c in columns:
            row.setdefault(str(c), None)
    return values


def _users(conn: Connection, ids: Sequence[str]) -> dict[str, str | None]:
    users: dict[str, str | None] = {}
    for batch in _batches(ids):
        query = (
            select(captures.c.run_id, documents.c.body)
            .join(documents, documents.c.digest == captures.c.digest)
            .where(captures.c.run_id.in_(batch), captures.c.section == "run")
        )
        for run_id, body in conn.execute(query):
            user = json.loads(body).get("user")
            users[run_id] = user if isinstance(user, str) else None
    return users


def _record(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        project=row.project,
        name=row.name,
        status=RunStatus(row.status),
        created_at=row.created_at,
        ended_at=row.ended_at,
        heartbeat_at=row.heartbeat_at,
        group=row.group_name,
        tags=list(row.tags or []),
        host=row.host,
        pid=row.pid,
        exit_code=row.exit_code,
        error=row.error,
        reproduces=row.reproduces,
        fingerprint=row.fingerprint,
    )


def run_table(
    conn: Connection, where: ColumnElement[bool], table: TableQuery, dialect: str
) -> RunTable:
    """Answer ``table`` (``where`` is its compiled filter and project) on ``conn``."""
    if table.projects is not None:
        where = and_(where, runs.c.project.in_(sorted(table.projects)))
    # With a filter, the total comes from a window count over the page's own scan (the
    # filter is evaluated once); without one, counting the project's index is cheaper.
    filtered = bool(table.filter and table.filter.strip())
    columns: list[Any] = list(_ROW_COLUMNS)
    if filtered:
        columns.append(func.count().over().label("labledger_total"))
    query: Select[Any] = _order(select(*columns).select_from(runs), table, dialect).where(where)
    if table.limit is not None:
        query = query.limit(table.limit)
    if table.offset:
        query = query.offset(table.offset)
    rows = conn.execute(query).all()
    if filtered and rows:
        total = int(rows[0].labledger_total)
    elif filtered and not table.offset:
        total = 0
    else:
        total = int(conn.execute(select(func.count()).select_from(runs).where(where)).scalar() or 0)
    ids = [row.run_id for row in rows]
    if table.limit is None:  # every matching run: select the values by the same condition
        matching: Any = select(runs.c.run_id).where(where)
        values = _values(conn, ids, table.columns, matching)
    else:
        values = _values(conn, ids, table.columns)
    users = _users(conn, ids) if table.users else {}
    return RunTable(
        total, [TableRow(_record(row), users.get(row.run_id), values[row.run_id]) for row in rows]
    )


def column_keys(conn: Connection, project: str) -> tuple[list[str], list[str]]:
    in_project = select(runs.c.run_id).where(runs.c.project == project)
    config = select(params.c.key).where(params.c.run_id.in_(in_project)).distinct()
    metrics = (
        select(metric_summaries.c.key).where(metric_summaries.c.run_id.in_(in_project)).distinct()
    )
    return (
        sorted(conn.execute(config).scalars()),
        sorted(conn.execute(metrics).scalars()),
    )


def run_activity(conn: Connection) -> list[RunActivity]:
    c = runs.c
    query = select(c.project, c.status, c.created_at, c.ended_at, c.heartbeat_at)
    return [RunActivity(*row) for row in conn.execute(query)]


def column_values(
    conn: Connection, where: ColumnElement[bool], table: TableQuery, dialect: str
) -> list[tuple[Any, ...]]:
    """The values of ``table.columns`` (attributes allowed) for every matching run."""
    if table.projects is not None:
        where = and_(where, runs.c.project.in_(sorted(table.projects)))
    query: Select[Any] = select(runs.c.run_id).select_from(runs)
    selected: list[Any] = []
    for index, column in enumerate(table.columns):
        query, expressions = _joined(query, column, f"col{index}", dialect, ("value_json",))
        selected += expressions
    query = query.with_only_columns(*selected or [runs.c.run_id]).where(where)
    if not selected:
        return [() for _ in conn.execute(query)]
    config = [c.namespace == "config" for c in table.columns]
    return [
        tuple(
            json.loads(v) if is_config and v is not None else v
            for v, is_config in zip(row, config, strict=True)
        )
        for row in conn.execute(query)
    ]
