"""``GET /api/projects``: every visible project with run counts and recent activity."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter

from labledger.server.deps import AccessDep, StoreDep, can_see

router = APIRouter(prefix="/api", tags=["projects"])

DAY = 86400.0


@router.get("/projects")
def list_projects(access: AccessDep, store: StoreDep) -> list[dict[str, Any]]:
    result = []
    for name in store.list_projects():
        if not can_see(access, name):
            continue
        records = store.search_runs(name)
        days = Counter(time.strftime("%Y-%m-%d", time.gmtime(r.created_at)) for r in records)
        activity = [max(r.created_at, r.ended_at or 0.0, r.heartbeat_at or 0.0) for r in records]
        result.append(
            {
                "name": name,
                "runs": len(records),
                "running": sum(str(r.status) == "running" for r in records),
                "last_activity": max(activity, default=None),
                "runs_per_day": sorted(days.items()),
            }
        )
    return result
