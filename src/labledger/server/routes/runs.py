"""Run routes: the runs table with server-side filter, sort, paging and columns; groups;
one run's record, captures, check verdict, metric summaries and reproductions."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query

from labledger.entities import RunStatus
from labledger.errors import LabledgerError
from labledger.repro.check import check_run
from labledger.repro.verify import Verification, verify_runs
from labledger.sdk.api import Api, RunView
from labledger.server.deps import Access, AccessDep, ApiDep, SettingsDep, require
from labledger.server.views import clean, metric_json, number, run_json
from labledger.store.table import (
    Column,
    TableQuery,
    TableRow,
    column_values,
    parse_columns,
    parse_sort,
    read_table,
)

router = APIRouter(prefix="/api", tags=["runs"])

MAX_LIMIT = 1000
MAX_REPRODUCTIONS = 50


def visible_run(api: Api, access: Access, run_id: str) -> RunView:
    """The run ``run_id`` names (ID, unique prefix or name), if the caller may see it; its
    status settled (a dead ``running`` run becomes ``crashed``)."""
    run = api.run(run_id)
    require(access, run.project)
    return run


def row_json(row: TableRow) -> dict[str, Any]:
    r = row.record
    return {
        "id": r.run_id,
        "project": r.project,
        "name": r.name,
        "status": str(r.status),
        "user": row.user,
        "host": r.host,
        "created_at": r.created_at,
        "ended_at": r.ended_at,
        "runtime": r.runtime,
        "tags": list(r.tags),
        "group": r.group,
        "error": r.error,
        "reproduces": r.reproduces,
        "values": {k: clean(v) for k, v in row.values.items()},
    }


def _table_query(
    access: Access,
    project: str | None,
    filter: str | None,
    sort: str | None = None,
    columns: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> TableQuery:
    if project is not None:
        require(access, project)
    return TableQuery(
        project=project,
        filter=filter,
        sort=parse_sort(sort),
        columns=parse_columns(columns),
        offset=offset,
        limit=limit,
        projects=access.visible_projects(),
    )


@router.get("/runs")
def list_runs(
    access: AccessDep,
    api: ApiDep,
    project: str | None = None,
    filter: str | None = None,
    sort: str | None = None,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # SQL's largest integer
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    columns: str | None = None,
) -> dict[str, Any]:
    """One page of the runs table: ``sort=-metrics.acc.last,name``,
    ``columns=config.lr,metrics.loss.min``; ``total`` counts every matching run."""
    query = _table_query(access, project, filter, sort, columns, offset, limit)
    table = read_table(api.store, query)
    for row in table.rows:
        if row.record.status is RunStatus.RUNNING:
            api.settle(row.record)
    return {
        "total": table.total,
        "offset": offset,
        "columns": [str(c) for c in query.columns],
        "rows": [row_json(row) for row in table.rows],
    }


@router.get("/runs/groups")
def run_groups(
    access: AccessDep,
    api: ApiDep,
    by: str,
    project: str | None = None,
    filter: str | None = None,
    metric: str | None = None,
) -> list[dict[str, Any]]:
    """Matching runs grouped by ``by`` (``config.KEY`` or a run attribute such as ``group``,
    ``user``, ``status``), with each group's run count, and the number of runs with a finite
    ``metric`` (``n``), its mean and sample standard deviation (null below 2 runs)."""
    group_column = Column.parse(by)
    columns: tuple[Column, ...] = (group_column,)
    if metric:
        metric_column = Column.parse(metric)
        if metric_column.namespace == "attr" and metric_column.key != "runtime":
            raise LabledgerError(f"metric must be metrics.KEY or config.KEY, got {metric!r}")
        columns += (metric_column,)
    query = dataclasses.replace(_table_query(access, project, filter), columns=columns)
    groups: dict[str, tuple[Any, list[float], int]] = {}
    for row in column_values(api.store, query):
        value = row[0]
        label = json.dumps(value, sort_keys=True, default=str)
        _, values, count = groups.get(label, (value, [], 0))
        if len(row) > 1 and _is_number(row[1]):
            values.append(float(row[1]))
        groups[label] = (value, values, count + 1)
    result = []
    for value, values, count in groups.values():
        mean = sum(values) / len(values) if values else None
        std = None
        if mean is not None and len(values) > 1:
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        result.append(
            {
                "value": clean(value),
                "count": count,
                "n": len(values),
                "mean": number(mean),
                "std": number(std),
            }
        )
    return sorted(result, key=lambda g: (g["value"] is None, str(g["value"])))


def _is_number(value: Any) -> bool:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)


@router.get("/runs/{run_id}")
def get_run(run_id: str, access: AccessDep, api: ApiDep) -> dict[str, Any]:
    """The run record, with ``runtime`` and ``final_metrics``."""
    return run_json(visible_run(api, access, run_id).record)


@router.get("/runs/{run_id}/captures")
def get_captures(run_id: str, access: AccessDep, api: ApiDep) -> dict[str, Any]:
    """Every capture section: git, environment, host, gpu, command, determinism, seeds..."""
    captures: dict[str, Any] = clean(visible_run(api, access, run_id).captures())
    return captures


@router.get("/runs/{run_id}/check")
def get_check(run_id: str, access: AccessDep, api: ApiDep, settings: SettingsDep) -> dict[str, Any]:
    """The ``labledger check`` verdict: can this run's result be rebuilt from its record?"""
    run = visible_run(api, access, run_id)
    report = check_run(run, api.store, settings)
    return {
        "run": report.run_id,
        "passed": report.ok,
        "verdict": report.verdict,
        "items": [
            {"name": i.name, "status": i.status, "detail": i.message, "fix": i.fix}
            for i in report.items
        ],
    }


@router.get("/runs/{run_id}/metrics")
def get_metrics(run_id: str, access: AccessDep, api: ApiDep) -> list[dict[str, Any]]:
    """Every metric key of the run with its summary (``count`` 0: set only in the summary)."""
    record = visible_run(api, access, run_id).record
    return [metric_json(m) for _, m in sorted(record.metrics.items())]


def _verification_json(result: Verification) -> dict[str, Any]:
    return {
        "passed": result.reproduced,
        "compared": result.compared,
        "checks": [
            {
                "key": c.key,
                "kind": c.kind,
                "passed": c.ok,
                "a": clean(c.a),
                "b": clean(c.b),
                "detail": c.detail,
            }
            for c in result.checks
        ],
        "causes": [
            {"category": c.category, "title": c.title, "details": list(c.details)}
            for c in result.causes
        ],
    }


@router.get("/runs/{run_id}/reproductions")
def get_reproductions(run_id: str, access: AccessDep, api: ApiDep) -> list[dict[str, Any]]:
    """Runs that reproduce this one, each with its ``verify`` verdict against the original."""
    original = visible_run(api, access, run_id)
    found = api.runs(
        filter=f"reproduces = '{original.id}'", order_by="created_at", limit=MAX_REPRODUCTIONS
    )
    result = []
    for run in found:
        if access.role(run.project) is None:
            continue
        verdict: dict[str, Any] | None = None
        if run.status is not RunStatus.RUNNING:
            verdict = _verification_json(verify_runs(original, run, api.store))
        result.append(
            {
                "run": run.id,
                "name": run.name,
                "status": str(run.status),
                "created_at": run.record.created_at,
                "verify": verdict,
            }
        )
    return result
