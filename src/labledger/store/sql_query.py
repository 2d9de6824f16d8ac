"""Compile the filter AST (``filtering.py``) into SQLAlchemy expressions over the schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, cast, not_, or_, select, true
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
    if field.namespace == "config" and isinstance(value, bool):
        return "true" if value else "false"
    if field.namespace == "metrics" and not isinstance(value, float) and value is not None:
        raise FilterError(f"{field} is numeric: compare it with a number, not {value!r}")
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


def compile_filter(expr: Expr | None) -> ColumnElement[bool]:
    if expr is None:
        return true()
    if isinstance(expr, BoolOp):
        parts = [compile_filter(item) for item in expr.items]
        return and_(*parts) if expr.op == "and" else or_(*parts)
    if isinstance(expr, Not):
        return not_(compile_filter(expr.item))
    compiled: ColumnElement[bool] = _compile_comparison(expr)
    return compiled


def _compile_comparison(cmp: Comparison) -> Any:
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
        text = str(value).replace('"', '\\"')
        matched = cast(runs.c.tags, Text).like(f'%"{text}"%')
        return not_(matched) if op == "!=" else matched
    if op == "in":
        assert isinstance(value, tuple)
        sample = value[0] if value else None
        column = field_expression(field, sample)
        return column.in_([_coerce(field, v) for v in value])
    if op == "contains":
        return field_expression(field, "").contains(str(value), autoescape=True)
    column = field_expression(field, value)
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
