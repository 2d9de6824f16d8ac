"""``labledger report``: one self-contained HTML file comparing runs, to open offline or attach."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from labledger import __version__
from labledger.cli.common import open_api, user_errors
from labledger.cli.report_html import render_report
from labledger.encoding import flatten
from labledger.errors import LabledgerError
from labledger.repro.check import check_run
from labledger.sdk.analysis import metric_key, select_runs
from labledger.sdk.api import Api, RunView
from labledger.sdk.fingerprint import short

SYSTEM_PREFIX = "system/"
CHART_POINTS = 400
MAX_CHARTS = 24
MAX_RUNS = 200


def _clean(value: Any) -> Any:
    """JSON-ready: non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _varying(runs: Sequence[RunView]) -> list[str]:
    flat = [flatten(run.config) for run in runs]
    keys = sorted({k for f in flat for k in f})
    if len(runs) == 1:
        return keys
    return [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]


def _default_metric(runs: Sequence[RunView]) -> str | None:
    """The metric every run has, preferring validation metrics; None if there is none."""
    shared = set.intersection(*(set(run.metrics) for run in runs)) if runs else set()
    candidates = sorted(k for k in shared if not k.startswith(SYSTEM_PREFIX))
    preferred = [k for k in candidates if k.startswith(("val", "test", "eval"))]
    ordered = preferred or candidates
    return ordered[0] if ordered else None


def _run_entry(api: Api, run: RunView, keys: Sequence[str]) -> dict[str, Any]:
    report = check_run(run, api.store, api.settings)
    flat = flatten(run.config)
    record = run.record
    counts = (
        f"({report.count('pass')} pass, {report.count('warn')} warn, {report.count('fail')} fail)"
    )
    return {
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "status": str(run.status),
        "created_at": record.created_at,
        "runtime": record.runtime,
        "tags": list(record.tags),
        "config": {k: flat.get(k) for k in keys},
        "metrics": {k: v for k, v in run.metrics.items() if not k.startswith(SYSTEM_PREFIX)},
        "fingerprint": short(record.fingerprint) if record.fingerprint else None,
        "fingerprint_full": record.fingerprint,
        "check": {
            "verdict": report.verdict,
            "summary": counts,
            "items": [
                {"name": i.name, "status": i.status, "message": i.message, "fix": i.fix}
                for i in report.items
            ],
        },
    }


def _series(runs: Sequence[RunView], include_system: bool) -> dict[str, list[dict[str, Any]]]:
    keys: dict[str, None] = {}
    per_run = {run.id: run.metric_keys() for run in runs}
    for run in runs:
        for key in per_run[run.id]:
            if include_system or not key.startswith(SYSTEM_PREFIX):
                keys.setdefault(key, None)
    chosen = sorted(keys, key=lambda k: (k.startswith(SYSTEM_PREFIX), k))[:MAX_CHARTS]
    series: dict[str, list[dict[str, Any]]] = {}
    for key in chosen:
        curves = []
        for run in runs:
            if key not in per_run[run.id]:
                continue
            steps, values = run.history(key, samples=CHART_POINTS)
            curves.append({"run": run.id, "steps": steps.tolist(), "values": values.tolist()})
        series[key] = curves
    return series


def collect(
    api: Api,
    runs: Sequence[RunView],
    metric: str | None,
    by: str | None,
    *,
    include_system: bool = False,
    title: str | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as plain data (it is also embedded in the file)."""
    if not runs:
        raise LabledgerError("no runs match")
    if len(runs) > MAX_RUNS:
        raise LabledgerError(
            f"{len(runs)} runs: a report takes at most {MAX_RUNS}; narrow --filter"
        )
    metric = metric_key(metric) if metric else _default_metric(runs)
    keys = _varying(runs)
    data: dict[str, Any] = {
        "title": title or _title(runs),
        "generated_at": time.time(),
        "version": __version__,
        "store": api.store.uri,
        "metric": metric,
        "runs": [_run_entry(api, run, keys) for run in runs],
        "series": _series(runs, include_system),
        "importance": None,
        "significance": None,
    }
    if metric is not None:
        data["significance"] = _guarded(lambda: api.compare(metric, list(runs), by=by).to_dict())
        data["importance"] = _guarded(lambda: api.importance(metric, list(runs)).to_dict())
    cleaned: dict[str, Any] = _clean(data)
    return cleaned


def _guarded(compute: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = compute()
        return result
    except LabledgerError as exc:
        return {"error": str(exc)}


def _title(runs: Sequence[RunView]) -> str:
    projects = sorted({run.project for run in runs})
    return f"labledger report: {', '.join(projects)} ({len(runs)} runs)"


@click.command("report")
@click.argument("runs", nargs=-1, metavar="[RUNS]...")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
    show_default=True, help="HTML file to write.",
)  # fmt: skip
@click.option("--project", "-p", help="Runs of this project (with RUNS: ignored).")
@click.option("--filter", "-f", "filter_", metavar="EXPR", help="Filter (as runs ls).")
@click.option(
    "--metric", "-m", help="Metric for the importance and is-it-real panels "
    "[default: a metric every run has, val*/test* first].",
)  # fmt: skip
@click.option("--by", metavar="KEY", help="Grouping for is-it-real (as compare --by).")
@click.option("--title", help="Title of the report.")
@click.option("--system", "include_system", is_flag=True, help="Also chart system/* metrics.")
@user_errors
def report_command(
    runs: tuple[str, ...],
    output: Path,
    project: str | None,
    filter_: str | None,
    metric: str | None,
    by: str | None,
    title: str | None,
    include_system: bool,
) -> None:
    """Write ONE self-contained HTML file about RUNS (or the runs of --project/--filter):
    metric curves, is the difference real?, parameter importance, and each run's
    fingerprint and `check` verdict. Data, CSS and JS are inline; it makes no network
    request, so it opens offline or as a chat attachment.

    \b
    Examples:
      labledger report 3fa9 b71c c0d2 -o sweep.html
      labledger report -p digits -f "config.epochs = 10" -m val/acc --by optimizer
      labledger report -p digits --title "Optimizer study" -o study.html
    """
    api = open_api()
    chosen = select_runs(api, list(runs), project, filter_)
    data = collect(api, chosen, metric, by, include_system=include_system, title=title)
    try:
        output.write_text(render_report(data), encoding="utf-8")
    except OSError as exc:
        raise LabledgerError(f"cannot write {output}: {exc.strerror or exc}") from None
    panels = []
    if isinstance(data["significance"], dict) and "sentence" in data["significance"]:
        panels.append(data["significance"]["sentence"])
    click.echo(f"Wrote {output} ({len(chosen)} runs, {len(data['series'])} metric charts)")
    for line in panels:
        click.echo(f"  {line}")
