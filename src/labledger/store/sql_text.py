"""Compile the filter AST (``filtering.py``) into SQL text with named parameters.

The one compiler of filters and sort keys: the plain ``sqlite3`` read path runs the text as it
is, the SQLAlchemy path (SQLite and PostgreSQL) through ``sqlalchemy.text``. Parameters are
``:p0``, ``:p1``... numbered by a ``Binder`` shared by the parts of one statement; values are
always parameters, never SQL text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from labledger.errors import FilterError
from labledger.store.filtering import BoolOp, Comparison, Expr, Field, Not, OrderKey

ATTRIBUTE_SQL = {
    "status": "runs.status",
    "name": "runs.name",
    "project": "runs.project",
    "group": "runs.group_name",
    "run_id": "runs.run_id",
    "created_at": "runs.created_at",
    "ended_at": "runs.ended_at",
    "host": "runs.host",
    "reproduces": "runs.reproduces",
    # seconds from start to end (or, while running, to the last heartbeat), as `runs ls` shows
    "runtime": "(COALESCE(runs.ended_at, runs.heartbeat_at) - runs.created_at)",
    "tags": "CAST(runs.tags AS TEXT)",
}
TRUE = "1 = 1"


@dataclass
class Binder:
    """Names the parameters of one statement; ``params`` holds them all."""

    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def many(self, values: Any) -> str:
        return ", ".join(self(v) for v in values)


def _metric(b: Binder, key: str) -> str:
    return (
        "(SELECT ms.last FROM metric_summaries AS ms "
        f"WHERE ms.run_id = runs.run_id AND ms.key = {b(key)})"
    )


def _param(b: Binder, key: str, column: str) -> str:
    return (
        f"(SELECT pa.{column} FROM params AS pa "
        f"WHERE pa.run_id = runs.run_id AND pa.key = {b(key)})"
    )


def _param_column(value: Any) -> str:
    if isinstance(value, bool):
        return "value_json"
    if isinstance(value, float):
        return "value_num"
    return "value_text"


def _coerce(field: Field, value: Any) -> Any:
    # Types were checked by the parser; booleans are stored as JSON text in config.
    if field.namespace == "config" and isinstance(value, bool):
        return "true" if value else "false"
    return value


def field_sql(b: Binder, field: Field, sample: Any = None) -> str:
    """The SQL expression for ``field``; for config keys ``sample`` picks the typed column."""
    if field.namespace == "metrics":
        return _metric(b, field.key)
    if field.namespace == "config":
        return _param(b, field.key, _param_column(sample))
    return ATTRIBUTE_SQL[field.key]


def compile_where(
    b: Binder, project: str | None, expr: Expr | None, *, semijoins: bool = True
) -> str:
    """The WHERE condition for ``project`` (``None``: any) and ``expr``.

    With ``semijoins`` a comparison on a metric or config key that no ``not`` encloses becomes
    ``runs.run_id IN (SELECT run_id FROM <metric_summaries|params> WHERE key = K AND value OP
    X)``, which the (key, value) indexes answer without a lookup per run. Outside ``not`` a
    missing value (NULL) and false both exclude the run, so the result is the same as the
    correlated form (``semijoins=False``), kept for everything else.
    """
    condition = TRUE if expr is None else _compile(b, expr, semijoins)
    if project is None:
        return condition
    return f"runs.project = {b(project)} AND {condition}"


def _compile(b: Binder, expr: Expr, semijoins: bool) -> str:
    if isinstance(expr, BoolOp):
        joiner = " AND " if expr.op == "and" else " OR "
        return "(" + joiner.join(_compile(b, item, semijoins) for item in expr.items) + ")"
    if isinstance(expr, Not):
        return f"NOT ({_compile(b, expr.item, False)})"
    return _comparison(b, expr, semijoins)


def _key_table(field: Field, sample: Any) -> tuple[str, str] | None:
    """(table, value column) holding ``field``'s values, for config and metric fields."""
    if field.namespace == "metrics":
        return "metric_summaries", "last"
    if field.namespace != "config":
        return None
    return "params", _param_column(sample)


def _comparison(b: Binder, cmp: Comparison, semijoins: bool) -> str:
    field, op, value = cmp.field, cmp.op, cmp.value
    if op in ("is null", "is not null"):
        # value_json is set for every stored param, whatever its type
        column = (
            _param(b, field.key, "value_json")
            if field.namespace == "config"
            else field_sql(b, field)
        )
        return f"{column} IS NULL" if op == "is null" else f"{column} IS NOT NULL"
    if field.key == "tags" and field.namespace == "attr":
        if op not in ("contains", "=", "!="):
            raise FilterError("tags supports only: tags contains 'x'")
        # Tags are a JSON list: match the quoted, JSON-escaped tag; % and _ are literal.
        quoted = json.dumps(str(value))
        pattern = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matched = f"{ATTRIBUTE_SQL['tags']} LIKE {b(f'%{pattern}%')} ESCAPE '\\'"
        return f"NOT ({matched})" if op == "!=" else matched
    sample = value[0] if isinstance(value, tuple) and value else value
    if op == "contains":
        sample = ""
    located = _key_table(field, sample) if semijoins else None
    if located is not None and (op in ("in", "contains") or _coerce(field, value) is not None):
        table, column = located
        key = b(field.key)
        condition = _condition(b, field, f"k.{column}", op, value)
        return (
            f"runs.run_id IN (SELECT k.run_id FROM {table} AS k "
            f"WHERE k.key = {key} AND {condition})"
        )
    return _condition(b, field, field_sql(b, field, sample), op, value)


def _condition(b: Binder, field: Field, column: str, op: str, value: Any) -> str:
    """``column OP value`` for the comparison operators, ``in`` and ``contains``."""
    if op == "in":
        assert isinstance(value, tuple)
        return f"{column} IN ({b.many(_coerce(field, v) for v in value)})"
    if op == "contains":
        escaped = str(value).replace("/", "//").replace("%", "/%").replace("_", "/_")
        return f"{column} LIKE {b(f'%{escaped}%')} ESCAPE '/'"
    value = _coerce(field, value)
    if value is None:
        return f"{column} IS NULL" if op == "=" else f"{column} IS NOT NULL"
    return f"{column} {op} {b(value)}"


def compile_order(b: Binder, keys: list[OrderKey]) -> str:
    """The ORDER BY list for ``keys``, ties broken by newest first, then run ID."""
    clauses: list[str] = []
    for key in keys:
        direction = "DESC" if key.descending else "ASC"
        if key.field.namespace == "config":
            # numbers sort numerically, everything else by its text
            for column in ("value_num", "value_text"):
                clauses.append(f"{_param(b, key.field.key, column)} {direction} NULLS LAST")
            continue
        clauses.append(f"{field_sql(b, key.field)} {direction} NULLS LAST")
    clauses += ["runs.created_at DESC", "runs.run_id"]
    return ", ".join(clauses)
