"""Metric series for charts: min/max envelopes of at most ``points`` buckets, so a spike in a
million points stays visible, and full resolution inside a zoomed step range."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from labledger.entities import MetricSeries
from labledger.errors import LabledgerError
from labledger.sdk.api import Api, RunView
from labledger.sdk.series import envelope
from labledger.server.deps import Access, AccessDep, ApiDep, SeriesCacheDep
from labledger.server.routes.runs import visible_run
from labledger.server.series_cache import SeriesCache
from labledger.server.views import float_list
from labledger.store.rollups import SeriesEnvelope

router = APIRouter(prefix="/api", tags=["series"])

MAX_POINTS = 20_000
MAX_SERIES = 200
XAxis = Literal["step", "time", "relative"]


def series_json(
    cache: SeriesCache,
    run: RunView,
    key: str,
    points: int,
    start: int | None,
    end: int | None,
    x: XAxis,
) -> dict[str, Any]:
    """One series, reduced to at most ``points`` buckets between steps ``start`` and ``end``."""
    summary = run.record.metrics.get(key)
    if x == "step" and summary is not None and summary.count > points:
        # a long series drawn over steps: read from the stored rollups, not the points
        return envelope_json(key, run.envelope(key, points, start, end), start, end)
    if summary is None or summary.count == 0:
        series = MetricSeries(key, np.empty(0, np.int64), np.empty(0), np.empty(0))
    else:
        series = cache.read(run.id, key, summary.count, start, end)
    times = series.times if x != "step" else None
    reduced = envelope(series.steps, series.values, times, points)
    return {
        "key": key,
        "total": len(series),
        "downsampled": reduced.downsampled,
        "start": start,
        "end": end,
        "steps": reduced.steps.tolist(),
        "values": float_list(reduced.mean),
        "min": float_list(reduced.min),
        "max": float_list(reduced.max),
        "times": [] if reduced.times is None else reduced.times.tolist(),
    }


def envelope_json(
    key: str, env: SeriesEnvelope, start: int | None, end: int | None
) -> dict[str, Any]:
    """A rollup envelope in ``series_json``'s shape; ``steps`` are each bucket's first step."""
    return {
        "key": key,
        "total": env.total,
        "downsampled": env.downsampled,
        "start": start,
        "end": end,
        "steps": env.steps.tolist(),
        "values": float_list(env.mean),
        "min": float_list(env.min),
        "max": float_list(env.max),
        "times": [],
    }


@router.get("/runs/{run_id}/series")
def get_series(
    run_id: str,
    access: AccessDep,
    api: ApiDep,
    cache: SeriesCacheDep,
    key: str,
    points: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 1000,
    start: int | None = None,
    end: int | None = None,
    x: XAxis = "step",
) -> dict[str, Any]:
    """``key``'s points between steps ``start`` and ``end`` (both included; default: all),
    in at most ``points`` buckets. Not ``downsampled``: ``values`` are the points themselves
    (and ``min`` = ``max`` = ``values``); otherwise per bucket the first step and time and
    the mean, minimum and maximum. ``times`` is filled for ``x=time`` and ``x=relative``."""
    run = visible_run(api, access, run_id)
    return series_json(cache, run, key, points, start, end, x)


class SeriesRequest(BaseModel):
    runs: list[str] = Field(min_length=1, max_length=MAX_SERIES)
    keys: list[str] = Field(min_length=1, max_length=MAX_SERIES)
    points: int = Field(1000, ge=1, le=MAX_POINTS)
    start: int | None = None
    end: int | None = None
    x: XAxis = "step"


def _many(
    api: Api, cache: SeriesCache, access: Access, body: SeriesRequest
) -> list[dict[str, Any]]:
    if len(body.runs) * len(body.keys) > MAX_SERIES:
        raise LabledgerError(f"at most {MAX_SERIES} run x key pairs per request")
    runs = [visible_run(api, access, ref) for ref in body.runs]
    long = [
        (run.id, key)
        for run in runs
        for key in body.keys
        if body.x == "step"
        and (summary := run.record.metrics.get(key)) is not None
        and summary.count > body.points
    ]
    # the long series of every run in one store call, from their rollups
    envelopes = (
        dict(
            zip(
                long,
                api.store.read_envelopes(long, body.points, start=body.start, end=body.end),
                strict=True,
            )
        )
        if long
        else {}
    )
    result = []
    for run in runs:
        for key in body.keys:
            env = envelopes.get((run.id, key))
            if env is not None:
                one = envelope_json(key, env, body.start, body.end)
            else:
                one = series_json(cache, run, key, body.points, body.start, body.end, body.x)
            result.append({"run": run.id, **one})
    return result


@router.post("/series")
def post_series(
    body: SeriesRequest, access: AccessDep, api: ApiDep, cache: SeriesCacheDep
) -> list[dict[str, Any]]:
    """Many series at once (compare views): every key of every run, reduced as above; a run
    without a key gives ``total`` 0."""
    return _many(api, cache, access, body)
