"""Analysis routes: parameter importance (``GET /api/importance``) and "is the difference
real?" (``GET /api/significance``), computed by ``labledger.sdk.analysis``.

Runs are chosen by ``runs=ID,ID`` (every run's project must be visible to the caller) or by
``project``/``filter`` (runs of projects the caller cannot see are left out).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from labledger.errors import LabledgerError
from labledger.sdk.analysis import compare, importance, select_runs
from labledger.sdk.api import Api, RunView
from labledger.server.deps import Access, AccessDep, ApiDep, can_see, require

router = APIRouter(prefix="/api", tags=["analysis"])

SEEDS = Query(ge=0, le=2**32 - 1, description="Bootstrap seed: the same seed, the same result.")


def _split(text: str | None, sep: str = ",") -> list[str]:
    return [part.strip() for part in (text or "").split(sep) if part.strip()]


def _chosen(
    access: Access, api: Api, runs: str | None, project: str | None, filter: str | None
) -> list[RunView]:
    """The runs a request analyses, after the authorisation check."""
    refs = _split(runs)
    if refs:
        chosen = select_runs(api, refs)
        for run in chosen:
            require(access, run.project)
        return chosen
    if project is not None:
        require(access, project)
    visible = [r for r in select_runs(api, None, project, filter) if can_see(access, r.project)]
    if not visible:
        raise LabledgerError("no runs match")
    return visible


def _sets(access: Access, api: Api, text: str) -> dict[str, list[str | RunView]]:
    """``adam:ab12,cd34;sgd:ef56`` → named run sets (a set without a name is ``set N``)."""
    sets: dict[str, list[str | RunView]] = {}
    for i, part in enumerate(_split(text, ";"), start=1):
        name, colon, ids = part.rpartition(":") if ":" in part else ("", "", part)
        name = name.strip() if colon and name.strip() else f"set {i}"
        if name in sets:
            raise LabledgerError(f"run set {name!r} is given twice in sets=")
        members = select_runs(api, _split(ids))
        for run in members:
            require(access, run.project)
        sets[name] = list(members)
    if len(sets) < 2:
        raise LabledgerError("sets= needs at least two run sets: name:id,id;name:id,id")
    return sets


@router.get("/importance")
def get_importance(
    access: AccessDep,
    api: ApiDep,
    metric: Annotated[str, Query(description="Metric key, e.g. val/acc (or metrics.val/acc).")],
    project: str | None = None,
    filter: str | None = None,
    runs: Annotated[str | None, Query(description="Comma-separated run IDs or prefixes.")] = None,
    correlation: Literal["spearman", "pearson"] = "spearman",
    seed: Annotated[int, SEEDS] = 0,
) -> dict[str, Any]:
    """Per config key: correlation with ``metric`` and random-forest permutation importance,
    each with a 95% bootstrap interval; ``method`` explains them, ``warning`` flags too few
    runs."""
    chosen = _chosen(access, api, runs, project, filter)
    result = importance(api, metric, chosen, correlation=correlation, seed=seed)
    return result.to_dict()


@router.get("/significance")
def get_significance(
    access: AccessDep,
    api: ApiDep,
    metric: Annotated[str, Query(description="Metric key, e.g. val/acc.")],
    project: str | None = None,
    filter: str | None = None,
    runs: Annotated[str | None, Query(description="Comma-separated run IDs or prefixes.")] = None,
    by: Annotated[
        str | None,
        Query(
            description="config.KEY (or KEY), user, host, group, status or project; "
            "default: by configuration ignoring seed keys."
        ),
    ] = None,
    sets: Annotated[
        str | None,
        Query(description="Explicit run sets instead of by: name:id,id;name:id,id"),
    ] = None,
    higher_is_better: Annotated[
        bool | None, Query(description="Default: inferred (loss/error/… lower is better).")
    ] = None,
    seed: Annotated[int, SEEDS] = 0,
) -> dict[str, Any]:
    """Each group's mean final ``metric`` with a 95% bootstrap interval, the probability that
    the best group beats the runner-up, the verdict (real/noise/insufficient) and a sentence."""
    if sets:
        if by:
            raise LabledgerError("give either by= or sets=, not both")
        run_sets = _sets(access, api, sets)
        result = compare(api, metric, by=run_sets, higher_is_better=higher_is_better, seed=seed)
    else:
        chosen = _chosen(access, api, runs, project, filter)
        result = compare(api, metric, chosen, by=by, higher_is_better=higher_is_better, seed=seed)
    return result.to_dict()
