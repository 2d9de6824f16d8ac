"""The runs table: one page of runs with chosen config and metric columns, filtered and
sorted by any column, plus the total. Used by the UI's runs table and groups.

``TableQuery`` names what to read; a store may answer it natively (``SqlStore.run_table``:
filter, sort and paging in SQL, values read for the page only); ``reference_table`` answers it
for any ``Store`` from full records and defines the expected result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from labledger.encoding import flatten
from labledger.entities import RunRecord
from labledger.errors import FilterError
from labledger.store.base import Store
from labledger.store.filtering import ATTRIBUTES, parse_field

Agg = Literal["last", "min", "max"]
AGGREGATES: tuple[Agg, ...] = ("last", "min", "max")
# Run attributes a table can sort by, beyond the filter language's (``runtime``, ``user``).
SORTABLE_ATTRIBUTES = (ATTRIBUTES - {"tags"}) | {"runtime", "user"}


@dataclass(frozen=True)
class Column:
    """``config.KEY``, ``metrics.KEY.last|min|max`` (``metrics.KEY`` means last), or a run
    attribute (``name``, ``created_at``, ``runtime``, ``user``...)."""

    namespace: Literal["attr", "config", "metrics"]
    key: str
    agg: Agg = "last"

    @classmethod
    def parse(cls, text: str) -> Column:
        text = text.strip()
        if text in SORTABLE_ATTRIBUTES:
            return cls("attr", text)
        if text.startswith("metrics."):
            body, _, agg = text.rpartition(".")
            if agg in AGGREGATES and body != "metrics":
                return cls("metrics", parse_field(body).key, agg)
        parsed = parse_field(text)
        if parsed.namespace == "attr" and parsed.key in SORTABLE_ATTRIBUTES:
            return cls("attr", parsed.key)  # `id`, `created`: as `runs ls` names them
        if parsed.namespace == "attr":
            raise FilterError(f"cannot sort or show column {text!r}")
        return cls(parsed.namespace, parsed.key)  # type: ignore[arg-type]

    def __str__(self) -> str:
        if self.namespace == "attr":
            return self.key
        if self.namespace == "config":
            return f"config.{self.key}"
        return f"metrics.{self.key}.{self.agg}"


@dataclass(frozen=True)
class SortKey:
    column: Column
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> SortKey:
        text = text.strip()
        return cls(Column.parse(text.lstrip("+-")), text.startswith("-"))


def parse_sort(text: str | Sequence[str] | None) -> tuple[SortKey, ...]:
    """``"-metrics.acc.last,name"`` → sort keys (``-`` descending)."""
    parts = text.split(",") if isinstance(text, str) else list(text or ())
    return tuple(SortKey.parse(p) for p in parts if p.strip())


def parse_columns(text: str | Sequence[str] | None) -> tuple[Column, ...]:
    parts = text.split(",") if isinstance(text, str) else list(text or ())
    columns = tuple(Column.parse(p) for p in parts if p.strip())
    for column in columns:
        if column.namespace == "attr":
            raise FilterError(f"column {column} is always returned: choose config.* or metrics.*")
    return tuple(dict.fromkeys(columns))


@dataclass(frozen=True)
class TableQuery:
    project: str | None = None
    filter: str | None = None
    sort: tuple[SortKey, ...] = ()
    columns: tuple[Column, ...] = ()
    offset: int = 0
    limit: int | None = 100
    projects: frozenset[str] | None = None
    """Only runs of these projects (the caller's visible ones); None: every project."""
    users: bool = True
    """Read each row's user (from the run's ``run`` capture)."""


@dataclass
class TableRow:
    """A run without its config, summary and metric summaries (``record`` has them empty),
    and the chosen columns' values keyed by ``str(column)``."""

    record: RunRecord
    user: str | None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunTable:
    total: int
    rows: list[TableRow]


@dataclass(frozen=True)
class RunActivity:
    """The few fields of one run that project listings summarise."""

    project: str
    status: str
    created_at: float
    ended_at: float | None
    heartbeat_at: float | None


@runtime_checkable
class TableReader(Protocol):
    """A store that answers the runs table natively (faster than the reference functions)."""

    def run_table(self, query: TableQuery) -> RunTable: ...

    def column_values(self, query: TableQuery) -> list[tuple[Any, ...]]:
        """For every run ``query`` matches (unsorted, not paged), the values of its columns,
        which may include attributes (``status``, ``user``, ``runtime``...)."""
        ...

    def column_keys(self, project: str) -> tuple[list[str], list[str]]:
        """Sorted distinct config keys and metric keys of the project's runs."""
        ...

    def run_activity(self) -> list[RunActivity]: ...


def read_table(store: Store, query: TableQuery) -> RunTable:
    """``query`` answered by the store itself when it can, else by ``reference_table``."""
    if isinstance(store, TableReader):
        return store.run_table(query)
    return reference_table(store, query)


def column_values(store: Store, query: TableQuery) -> list[tuple[Any, ...]]:
    """``TableReader.column_values``, answered by the store when it can."""
    if isinstance(store, TableReader):
        return store.column_values(query)
    everything = replace(query, sort=(), columns=(), offset=0, limit=None)
    result = []
    for row in reference_table(store, everything).rows:
        full = store.get_run(row.record.run_id)
        values = []
        for column in query.columns:
            if column.namespace == "attr":
                values.append(_sort_values(full, row.user, column)[0])
            else:
                values.append(column_value(full, column))
        result.append(tuple(values))
    return result


def column_keys(store: Store, project: str) -> tuple[list[str], list[str]]:
    """Every config key and metric key the project's runs table can show."""
    if isinstance(store, TableReader):
        return store.column_keys(project)
    records = store.search_runs(project)
    config = {k for r in records for k in flatten(r.config)}
    metrics = {k for r in records for k in r.metrics}
    return sorted(config), sorted(metrics)


def run_activity(store: Store) -> list[RunActivity]:
    """Project, status and times of every run."""
    if isinstance(store, TableReader):
        return store.run_activity()
    return [
        RunActivity(r.project, str(r.status), r.created_at, r.ended_at, r.heartbeat_at)
        for r in store.search_runs()
    ]


# --- the reference: full records, sorted in Python -------------------------------------------


def _config_sort_parts(value: Any) -> tuple[float | None, str | None]:
    """The (number, text) pair the params table stores for a config value."""
    if value is _ABSENT:
        return None, None
    number = float(value) if isinstance(value, (int, float)) else None
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, separators=(",", ":"))
    )
    return number, text


_ABSENT = object()


def _metric_value(record: RunRecord, key: str, agg: Agg) -> float | None:
    summary = record.metrics.get(key)
    value = None if summary is None else getattr(summary, agg)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _user(store: Store, record: RunRecord) -> str | None:
    user = store.get_captures(record.run_id).get("run", {}).get("user")
    return user if isinstance(user, str) else None


def _sort_values(record: RunRecord, user: str | None, column: Column) -> list[Any]:
    if column.namespace == "metrics":
        return [_metric_value(record, column.key, column.agg)]
    if column.namespace == "config":
        return list(_config_sort_parts(flatten(record.config).get(column.key, _ABSENT)))
    if column.key == "user":
        return [user]
    if column.key == "runtime":
        end = record.ended_at if record.ended_at is not None else record.heartbeat_at
        return [None if end is None else end - record.created_at]
    value = getattr(record, "group" if column.key == "group" else column.key)
    return [str(value) if column.key == "status" else value]


def _sorted(items: list[Any], key: Any, descending: bool) -> list[Any]:
    """Stable sort with nulls last in both directions (as the SQL path's NULLS LAST)."""
    present = [item for item in items if key(item) is not None]
    missing = [item for item in items if key(item) is None]
    return sorted(present, key=key, reverse=descending) + missing


def column_value(record: RunRecord, column: Column) -> Any:
    if column.namespace == "metrics":
        return _metric_value(record, column.key, column.agg)
    return flatten(record.config).get(column.key)


def reference_table(store: Store, query: TableQuery) -> RunTable:
    """``query`` answered from full records: slow, simple and the definition of the result."""
    records = [
        r
        for r in store.search_runs(query.project, query.filter)
        if query.projects is None or r.project in query.projects
    ]
    users = {r.run_id: _user(store, r) if query.users else None for r in records}
    items = sorted(records, key=lambda r: r.run_id)
    items = _sorted(items, lambda r: r.created_at, descending=True)
    for sort in reversed(query.sort):
        for part in reversed(range(2 if sort.column.namespace == "config" else 1)):
            items = _sorted(
                items,
                lambda r, c=sort.column, i=part: _sort_values(r, users[r.run_id], c)[i],
                sort.descending,
            )
    end = None if query.limit is None else query.offset + query.limit
    rows = [
        TableRow(
            _light(r),
            users[r.run_id],
            {str(c): column_value(r, c) for c in query.columns},
        )
        for r in items[query.offset : end]
    ]
    return RunTable(len(records), rows)


def _light(record: RunRecord) -> RunRecord:
    return RunRecord(
        run_id=record.run_id,
        project=record.project,
        name=record.name,
        status=record.status,
        created_at=record.created_at,
        ended_at=record.ended_at,
        heartbeat_at=record.heartbeat_at,
        group=record.group,
        tags=list(record.tags),
        host=record.host,
        pid=record.pid,
        exit_code=record.exit_code,
        error=record.error,
        reproduces=record.reproduces,
        fingerprint=record.fingerprint,
    )
