"""``GET /api/diff?runs=a,b,c``: what differs between runs, section by section (the CLI's
``runs diff``, for N runs side by side)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labledger.errors import LabledgerError
from labledger.sdk.diff import SECTION_TITLES, snapshot, values_equal
from labledger.server.deps import AccessDep, ApiDep
from labledger.server.routes.runs import visible_run
from labledger.server.views import clean

router = APIRouter(prefix="/api", tags=["diff"])

MAX_RUNS = 20


@router.get("/diff")
def diff(
    runs: str,
    access: AccessDep,
    api: ApiDep,
    everything: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    """Per section (config, metrics, packages, git, host, gpu, seeds, determinism, command,
    data...), the keys whose values differ between the runs, with each run's value (null:
    absent, and ``missing`` says in which runs). ``all=true`` keeps equal keys too."""
    refs = [r.strip() for r in runs.split(",") if r.strip()]
    if not 2 <= len(refs) <= MAX_RUNS:
        raise LabledgerError(f"give 2 to {MAX_RUNS} runs to compare, got {len(refs)}")
    views = [visible_run(api, access, ref) for ref in refs]
    snapshots = [snapshot(view) for view in views]
    for view, sections_of_run in zip(views, snapshots, strict=True):
        used = api.store.artifacts.used_by(view.id)
        if used:  # data inputs: which version of each artifact the run read
            sections_of_run["data"] = {v.name: f"{v.ref} {v.digest[:12]}" for v in used}
    names = [n for n in SECTION_TITLES if any(n in s for s in snapshots)]
    names += sorted({n for s in snapshots for n in s} - set(names))
    sections: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        parts = [s.get(name, {}) for s in snapshots]
        keys = list(dict.fromkeys(k for part in parts for k in part))
        entries = []
        for key in keys:
            present = [key in part for part in parts]
            values = [part.get(key) for part in parts]
            same = all(present) and all(values_equal(values[0], v) for v in values[1:])
            if same and not everything:
                continue
            entries.append(
                {
                    "key": key,
                    "values": clean(values),
                    "missing": [not p for p in present],
                    "differs": not same,
                }
            )
        if entries:
            sections[name] = entries
    return {
        "runs": [{"id": v.id, "name": v.name, "project": v.project} for v in views],
        "titles": {name: SECTION_TITLES.get(name, name) for name in sections},
        "sections": sections,
    }
