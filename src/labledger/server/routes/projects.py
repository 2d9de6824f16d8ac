"""Project routes: the visible projects with run counts and activity; a project's columns."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter

from labledger.errors import NotFound
from labledger.server.deps import AccessDep, StoreDep, can_see, require
from labledger.store.table import column_keys, run_activity

router = APIRouter(prefix="/api", tags=["projects"])


def _day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


@router.get("/projects")
def list_projects(access: AccessDep, store: StoreDep) -> list[dict[str, Any]]:
    """Every visible project: ``runs``, ``running``, ``last_activity`` (unix seconds) and
    ``runs_per_day`` (``[["YYYY-MM-DD", count], ...]``, UTC days with runs, oldest first)."""
    projects: dict[str, dict[str, Any]] = {}
    for run in run_activity(store):
        if run.project not in projects:
            if not can_see(access, run.project):
                continue
            projects[run.project] = {"runs": 0, "running": 0, "last": 0.0, "days": Counter()}
        summary = projects[run.project]
        summary["runs"] += 1
        summary["running"] += run.status == "running"
        latest = max(run.created_at, run.ended_at or 0.0, run.heartbeat_at or 0.0)
        summary["last"] = max(summary["last"], latest)
        summary["days"][_day(run.created_at)] += 1
    return [
        {
            "name": name,
            "runs": p["runs"],
            "running": p["running"],
            "last_activity": p["last"],
            "runs_per_day": sorted(p["days"].items()),
        }
        for name, p in sorted(projects.items())
    ]


@router.get("/projects/{project}/keys")
def project_keys(project: str, access: AccessDep, store: StoreDep) -> dict[str, list[str]]:
    """Every column the project's runs table can show: flattened config keys and metric
    keys (``system/*`` included), sorted."""
    require(access, project)
    config, metrics = column_keys(store, project)
    if not config and not metrics and project not in store.list_projects():
        raise NotFound(f"no project {project!r}")
    return {"config": config, "metrics": metrics}
