"""Metric histories: ``metrics/get-history`` (paged) and ``get-history-bulk-interval``."""

from __future__ import annotations

from typing import Any

import numpy as np

from labledger.server.mlflow import convert
from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import invalid
from labledger.server.mlflow.runs import decode_token, encode_token

HISTORY_PAGE_DEFAULT = 25_000
HISTORY_PAGE_LIMIT = 25_000
BULK_MAX_RUNS = 100
BULK_MAX_RESULTS = 2500


def _points(series: Any, run_id: str | None = None) -> list[dict[str, Any]]:
    points = []
    for step, value, at in zip(
        series.steps.tolist(), series.values.tolist(), series.times.tolist(), strict=True
    ):
        point = convert.metric_json(series.key, value, at, step)
        if run_id is not None:
            point["run_id"] = run_id
        points.append(point)
    return points


@endpoint("/metrics/get-history", "GET")
def get_history(ctx: Ctx, msg: Message) -> dict[str, Any]:
    record = ctx.run(msg.text("run_id") or msg.text("run_uuid"))
    key = msg.required("metric_key")
    limit = msg.integer("max_results", HISTORY_PAGE_DEFAULT) or HISTORY_PAGE_DEFAULT
    limit = min(limit, HISTORY_PAGE_LIMIT)
    offset = decode_token(msg.text("page_token"))
    if key not in record.metrics:
        return {"metrics": []}
    series = ctx.store.read_metric(record.run_id, key)
    end = offset + limit
    sliced = type(series)(
        key, series.steps[offset:end], series.values[offset:end], series.times[offset:end]
    )
    answer: dict[str, Any] = {"metrics": _points(sliced)}
    if len(series) > end:
        answer["next_page_token"] = encode_token(end)
    return answer


@endpoint("/metrics/get-history-bulk-interval", "GET")
def get_history_bulk_interval(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_ids = [str(r) for r in msg.items("run_ids")]
    if not run_ids:
        raise invalid("GetMetricHistoryBulkInterval request must specify at least one run_id.")
    if len(run_ids) > BULK_MAX_RUNS:
        raise invalid(
            f"GetMetricHistoryBulkInterval request cannot specify more than {BULK_MAX_RUNS}"
            f" run_ids. Received {len(run_ids)} run_ids."
        )
    key = msg.required("metric_key")
    start, end = msg.integer("start_step"), msg.integer("end_step")
    if (start is None) != (end is None):
        raise invalid("If either start step or end step are specified, both must be specified.")
    if start is not None and end is not None and start > end:
        raise invalid("end_step must be greater than start_step.")
    max_results = msg.integer("max_results", BULK_MAX_RESULTS) or BULK_MAX_RESULTS
    if not 0 < max_results <= BULK_MAX_RESULTS:
        raise invalid(f"max_results must be between 1 and {BULK_MAX_RESULTS}.")
    points: list[dict[str, Any]] = []
    for run_id in run_ids:
        record = ctx.run(run_id)
        if key not in record.metrics:
            continue
        series = ctx.store.read_metric(run_id, key, start=start, end=end)
        points.extend(_points(_sampled(series, max_results), run_id))
    points.sort(key=lambda p: (p["run_id"], p["step"], p["timestamp"]))
    return {"metrics": points}


def _sampled(series: Any, max_results: int) -> Any:
    """At most ``max_results`` distinct steps, evenly spaced, always keeping the first and
    last (MLflow's sampling for charts)."""
    steps = np.unique(series.steps)
    if len(steps) <= max_results:
        return series
    index = np.unique(np.round(np.linspace(0, len(steps) - 1, max_results)).astype(int))
    keep = np.isin(series.steps, steps[index])
    return type(series)(series.key, series.steps[keep], series.values[keep], series.times[keep])
