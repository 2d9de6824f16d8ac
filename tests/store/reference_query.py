"""The SQLAlchemy-expression filter compiler labledger used before ``sql_text`` (frozen here as
the reference the equivalence tests compare the text compiler with; not used by the package)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, cast, func, not_, or_, select, true, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Text

from labledger.errors import FilterError
from labledger.store.filtering import BoolOp, Comparison, Expr, Field, Not, OrderKey
from labledger.store.schema import metric_summaries, params, runs

_ATTRIBUTE_COLUMNS = {
    "status": runs.c.status,
    "name": runs.c.name,
    "project": runs.c.project,
    "group": runs.c.group_name,
    "run_id": runs.c.run_id,
    "created_at": runs.c.created_at,
    "ended_at": runs.c.ended_at,
    "host": runs.c.host,
    "reproduces": runs.c.reproduces,
    # seconds from start to end (or, while running, to the last heartbeat), as `runs ls` shows
    "runtime": func.coalesce(runs.c.ended_at, runs.c.heartbeat_at) - runs.c.created_at,
}


def _metric(key: str) -> Any:
    return (
        select(metric_summaries.c.last)
        .where(metric_summaries.c.run_id == runs.c.run_id, metric_summaries.c.key == key)
        .scalar_subquery()
    )


def _param(key: str, column: str) -> Any:
    return (
        select(params.c[column])
        .where(params.c.run_id == runs.c.run_id, params.c.key == key)
        .scalar_subquery()
    )


def _param_column(field: Field, value: Any) -> Any:
    if isinstance(value, bool):
        return _param(field.key, "value_json")
    if isinstance(value, float):
        return _param(field.key, "value_num")
    return _param(field.key, "value_text")


def _coerce(field: Field, value: Any) -> Any:
    # Types were checked by the parser; booleans are stored as JSON text in config.
    if field.namespace == "config" and isinstance(value, bool):
        return "true" if value else "false"
    return value


def field_expression(field: Field, sample: Any = None) -> Any:
    """The SQL expression for ``field``; for config keys ``sample`` picks the typed column."""
    if field.namespace == "metrics":
        return _metric(field.key)
    if field.namespace == "config":
        return _param_column(field, sample)
    if field.key == "tags":
        return cast(runs.c.tags, Text)
    return _ATTRIBUTE_COLUMNS[field.key]


def compile_filter(expr: Expr | None, *, semijoins: bool = True) -> ColumnElement[bool]:
    """The WHERE condition for ``expr``.

    With ``semijoins`` a comparison on a metric or config key that no ``not`` encloses becomes
    ``run_id IN (SELECT run_id FROM <summaries|params> WHERE key = K AND value OP X)``, which
    the (key, value) indexes answer without a lookup per run. Outside ``not`` a missing value
    (NULL) and false both exclude the run, so the result is the same as the correlated form
    (``semijoins=False``), which is kept for everything else.
    """
    return _compile(expr, semijoins)


def _compile(expr: Expr | None, semijoins: bool) -> ColumnElement[bool]:
    if expr is None:
        return true()
    if isinstance(expr, BoolOp):
        parts = [_compile(item, semijoins) for item in expr.items]
        return and_(*parts) if expr.op == "and" else or_(*parts)
    if isinstance(expr, Not):
        return not_(_compile(expr.item, False))
    compiled: ColumnElement[bool] = _compile_comparison(expr, semijoins)
    return compiled


def _key_table(field: Field, sample: Any) -> tuple[Any, Any] | None:
    """(table, value column) holding ``field``'s values, for config and metric fields."""
    if field.namespace == "metrics":
        return metric_summaries, metric_summaries.c.last
    if field.namespace != "config":
        return None
    if isinstance(sample, bool):
        return params, params.c.value_json
    if isinstance(sample, float):
        return params, params.c.value_num
    return params, params.c.value_text


def _compile_comparison(cmp: Comparison, semijoins: bool = False) -> Any:
    field, op, value = cmp.field, cmp.op, cmp.value
    if op in ("is null", "is not null"):
        # value_json is set for every stored param, whatever its type
        column = (
            _param(field.key, "value_json")
            if field.namespace == "config"
            else field_expression(field)
        )
        return column.is_(None) if op == "is null" else column.is_not(None)
    if field.key == "tags" and field.namespace == "attr":
        if op not in ("contains", "=", "!="):
            raise FilterError("tags supports only: tags contains 'x'")
        # Tags are a JSON list: match the quoted, JSON-escaped tag; % and _ are literal.
        quoted = json.dumps(str(value))
        pattern = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matched = cast(runs.c.tags, Text).like(f"%{pattern}%", escape="\\")
        return not_(matched) if op == "!=" else matched
    sample = value[0] if isinstance(value, tuple) and value else value
    if op == "contains":
        sample = ""
    located = _key_table(field, sample) if semijoins else None
    if located is not None and (op in ("in", "contains") or _coerce(field, value) is not None):
        table, raw = located
        condition = _condition(field, raw, op, value)
        matching = select(table.c.run_id).where(table.c.key == field.key, condition)
        return runs.c.run_id.in_(matching)
    return _condition(field, field_expression(field, sample), op, value)


def _condition(field: Field, column: Any, op: str, value: Any) -> Any:
    """``column OP value`` for the comparison operators, ``in`` and ``contains``."""
    if op == "in":
        assert isinstance(value, tuple)
        return column.in_([_coerce(field, v) for v in value])
    if op == "contains":
        # the column as text for SQLAlchemy only (no CAST in the SQL): LIKE on a number
        return type_coerce(column, Text).contains(str(value), autoescape=True)
    value = _coerce(field, value)
    if value is None:
        return column.is_(None) if op == "=" else column.is_not(None)
    comparisons = {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }
    return comparisons[op]


def compile_order(keys: list[OrderKey]) -> list[Any]:
    clauses: list[Any] = []
    for key in keys:
        if key.field.namespace == "config":
            # numbers sort numerically, everything else by its text
            for column in (_param(key.field.key, "value_num"), _param(key.field.key, "value_text")):
                clauses.append((column.desc() if key.descending else column.asc()).nulls_last())
            continue
        column = field_expression(key.field)
        clauses.append((column.desc() if key.descending else column.asc()).nulls_last())
    clauses.append(runs.c.created_at.desc())
    clauses.append(runs.c.run_id)
    return clauses
