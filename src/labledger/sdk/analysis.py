"""Parameter importance and "is the difference real?" over recorded runs.

Thin glue between the store and ``labledger.analysis``: pick the runs (IDs, or a project and a
filter), read each run's final metric value and config, and group them. Used by
``Api.importance`` / ``Api.compare``, the server's ``/api/importance`` and
``/api/significance``, and the ``labledger compare`` / ``importance`` / ``report`` commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from labledger.analysis import (
    ForestOptions,
    ImportanceResult,
    Significance,
    compare_groups,
    labels_by_configuration,
    labels_by_key,
    parameter_importance,
)
from labledger.analysis.features import label
from labledger.analysis.grouping import group_values
from labledger.analysis.importance import Correlation
from labledger.errors import LabledgerError

if TYPE_CHECKING:
    from labledger.sdk.api import Api, RunView

__all__ = ["compare", "final_value", "importance", "metric_key", "select_runs"]

RunRefs = Sequence["str | RunView"]
RUN_FIELDS = ("user", "host", "group", "status", "project")
SUMMARY_SUFFIXES = ("last", "min", "max")


def select_runs(
    api: Api,
    runs: RunRefs | None = None,
    project: str | None = None,
    filter: str | None = None,
) -> list[RunView]:
    """The runs named by ID / unique prefix / name, or else every run matching ``project``
    and ``filter``."""
    if runs:
        chosen, seen = [], set()
        for ref in runs:
            run = api.run(ref) if isinstance(ref, str) else ref
            if run.id not in seen:
                seen.add(run.id)
                chosen.append(run)
        return chosen
    if project is None and filter is None:
        raise LabledgerError("no runs chosen: give run IDs, or a project and/or a filter")
    return list(api.runs(project, filter=filter))


def metric_key(metric: str) -> str:
    """``metrics.val/acc`` → ``val/acc`` (the runs table's column names work too)."""
    metric = metric.strip()
    if not metric:
        raise LabledgerError("no metric given: pass e.g. --metric val/acc")
    return metric.removeprefix("metrics.")


def final_value(run: RunView, metric: str) -> float | None:
    """The run's final value of ``metric`` (summary over last point), or its ``.min`` /
    ``.max`` / ``.last`` when the name ends so and no metric has the full name."""
    finals = run.metrics
    value: Any = finals.get(metric)
    if value is None and metric not in finals:
        base, _, stat = metric.rpartition(".")
        summary = run.record.metrics.get(base)
        if stat in SUMMARY_SUFFIXES and summary is not None:
            value = getattr(summary, stat)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _require_metric(runs: Sequence[RunView], metric: str, values: Sequence[float | None]) -> None:
    if not runs:
        raise LabledgerError("no runs match")
    if all(v is None for v in values):
        keys = sorted({k for run in runs for k in run.metrics})[:8]
        known = ", ".join(keys) if keys else "none"
        raise LabledgerError(f"no chosen run has a numeric metric {metric!r} (metrics: {known})")


def importance(
    api: Api,
    metric: str,
    runs: RunRefs | None = None,
    *,
    project: str | None = None,
    filter: str | None = None,
    correlation: Correlation = "spearman",
    seed: int = 0,
    resamples: int = 1000,
    forest: ForestOptions | None = None,
) -> ImportanceResult:
    """Importance of each config key for ``metric`` over the chosen runs."""
    metric = metric_key(metric)
    # Sorted by ID so the result depends on which runs, not on the order they came in.
    chosen = sorted(select_runs(api, runs, project, filter), key=lambda r: r.id)
    values = [final_value(run, metric) for run in chosen]
    _require_metric(chosen, metric, values)
    configs = [run.config for run in chosen]
    return parameter_importance(
        configs,
        values,
        metric,
        correlation=correlation,
        seed=seed,
        resamples=resamples,
        forest=forest,
    )


def compare(
    api: Api,
    metric: str,
    runs: RunRefs | None = None,
    *,
    project: str | None = None,
    filter: str | None = None,
    by: str | Mapping[str, RunRefs] | None = None,
    higher_is_better: bool | None = None,
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> Significance:
    """Is the best group's ``metric`` really better than the runner-up's?

    ``by`` groups the runs: a config key (``config.optimizer`` or ``optimizer``), a run field
    (``user``, ``host``, ``group``, ``status``, ``project``), ``run`` (each run alone), or
    explicit run sets
    (``{"new": [ids], "old": [ids]}``, in which case ``runs``/``project``/``filter`` are not
    needed). Without ``by`` runs are grouped by configuration ignoring seeds, so runs that
    differ only by seed form one group and are reported as seed noise.
    """
    metric = metric_key(metric)
    same_configuration = False
    if isinstance(by, Mapping):
        labels, chosen = [], []
        for name, refs in by.items():
            members = select_runs(api, refs) if refs else []
            if not members:
                raise LabledgerError(f"run set {name!r} is empty")
            labels += [str(name)] * len(members)
            chosen += members
        by_name: str | None = "runs"
    else:
        chosen = sorted(select_runs(api, runs, project, filter), key=lambda r: r.id)
        by_name = by.strip() if by else None
        if by_name is None:
            labels = labels_by_configuration([run.config for run in chosen])
            same_configuration = True
        else:
            labels = _labels(chosen, by_name)
    values = [final_value(run, metric) for run in chosen]
    _require_metric(chosen, metric, values)
    groups, ids = group_values(labels, values, [run.id for run in chosen])
    return compare_groups(
        groups,
        metric,
        by=by_name,
        run_ids=ids,
        higher=higher_is_better,
        same_configuration=same_configuration,
        seed=seed,
        resamples=resamples,
        confidence=confidence,
    )


def _labels(runs: Sequence[RunView], by: str) -> list[str]:
    if by == "run":  # every run its own group: a single value says nothing about noise
        return [f"{run.name} ({run.id})" for run in runs]
    if by in RUN_FIELDS:
        return [_run_field(run, by) for run in runs]
    key = by.removeprefix("config.")
    labels = labels_by_key([run.config for run in runs], key)
    if all(text == "<missing>" for text in labels):
        raise LabledgerError(
            f"no chosen run has config key {key!r} to group by "
            f"(or use one of: {', '.join(RUN_FIELDS)})"
        )
    return labels


def _run_field(run: RunView, name: str) -> str:
    if name == "user":
        user = run.captures().get("host", {}).get("username")
        return label(user) if user else "unknown"
    value = getattr(run.record, name)
    return label(value) if value is not None else "<none>"
