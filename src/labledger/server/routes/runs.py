"""Run routes: the runs table (``GET /api/runs``) and one run's record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labledger.encoding import flatten
from labledger.server.deps import AccessDep, ApiDep, require
from labledger.server.views import number, run_json

router = APIRouter(prefix="/api", tags=["runs"])

MAX_LIMIT = 1000


def _value(record: Any, column: str) -> Any:
    if column.startswith("config."):
        return flatten(record.config).get(column.removeprefix("config."))
    if column.startswith("metrics."):
        key, _, agg = column.removeprefix("metrics.").rpartition(".")
        if agg not in ("last", "min", "max"):
            key, agg = column.removeprefix("metrics."), "last"
        summary = record.metrics.get(key)
        return None if summary is None else number(getattr(summary, agg))
    return None


@router.get("/runs")
def list_runs(
    access: AccessDep,
    api: ApiDep,
    project: str | None = None,
    filter: str | None = None,
    sort: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    columns: str | None = None,
) -> dict[str, Any]:
    if project is not None:
        require(access, project)
    chosen = [c.strip() for c in (columns or "").split(",") if c.strip()]
    order = [s.strip() for s in (sort or "").split(",") if s.strip()]
    total = api.count_runs(project, filter)
    runs = api.runs(project, filter=filter, order_by=order, limit=limit, offset=offset)
    rows = []
    for run in runs:
        r = run.record
        rows.append(
            {
                "id": r.run_id,
                "project": r.project,
                "name": r.name,
                "status": str(r.status),
                "user": None,
                "host": r.host,
                "created_at": r.created_at,
                "ended_at": r.ended_at,
                "runtime": r.runtime,
                "tags": list(r.tags),
                "group": r.group,
                "values": {c: _value(r, c) for c in chosen},
            }
        )
    return {"total": total, "offset": offset, "columns": chosen, "rows": rows}


@router.get("/runs/{run_id}")
def get_run(run_id: str, access: AccessDep, api: ApiDep) -> dict[str, Any]:
    run = api.run(run_id)
    require(access, run.project)
    return run_json(run.record)
