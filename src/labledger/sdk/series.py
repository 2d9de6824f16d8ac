"""Metric histories for readers: ``History`` tuples and downsampling for plots."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Envelope(NamedTuple):
    """A series reduced to buckets for a chart: per bucket its first step (and time), and
    the mean, minimum and maximum of its values. Not ``downsampled``: the points themselves."""

    steps: Any
    mean: Any
    min: Any
    max: Any
    times: Any | None
    downsampled: bool


class History(NamedTuple):
    """A metric's history: ``steps, values = run.history("loss")``."""

    steps: Any  # numpy int64 array
    values: Any  # numpy float64 array


def downsample(steps: Any, values: Any, points: int) -> History:
    """Reduce a series to about ``points`` points for plotting, keeping each bucket's minimum
    and maximum so spikes survive (a min/max decimation, vectorised with numpy)."""
    n = len(steps)
    if points <= 0:
        raise ValueError(f"points must be positive, got {points}")
    if n <= points:
        return History(np.asarray(steps), np.asarray(values))
    buckets = max(1, points // 2)
    usable = (n // buckets) * buckets
    width = usable // buckets
    block = np.asarray(values[:usable]).reshape(buckets, width)
    nan = np.isnan(block)
    if nan.any():  # NaN would win argmin/argmax; the copies are made only when needed
        lo = np.argmin(np.where(nan, np.inf, block), axis=1)
        hi = np.argmax(np.where(nan, -np.inf, block), axis=1)
    else:
        lo, hi = np.argmin(block, axis=1), np.argmax(block, axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    base = np.arange(buckets) * width
    index = np.empty(buckets * 2, dtype=np.int64)
    index[0::2], index[1::2] = base + first, base + second
    if usable < n:
        index = np.append(index, n - 1)
    return History(np.asarray(steps)[index], np.asarray(values)[index])


def envelope(steps: Any, values: Any, times: Any | None, points: int) -> Envelope:
    """At most ``points`` buckets of consecutive points: each bucket's first step and time,
    the mean, minimum and maximum of its values (NaN ignored), so no spike is lost."""
    steps, values = np.asarray(steps), np.asarray(values, dtype=float)
    n = len(steps)
    if points <= 0:
        raise ValueError(f"points must be positive, got {points}")
    if n <= points:
        return Envelope(steps, values, values, values, times, False)
    starts = (np.arange(points, dtype=np.int64) * n) // points
    nan = np.isnan(values)
    if nan.any():
        filled = np.where(nan, 0.0, values)
        counts = np.add.reduceat((~nan).astype(np.int64), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.add.reduceat(filled, starts) / counts
        mean[counts == 0] = np.nan
    else:
        counts = np.diff(np.append(starts, n))
        mean = np.add.reduceat(values, starts) / counts
    low = np.fmin.reduceat(values, starts)
    high = np.fmax.reduceat(values, starts)
    return Envelope(
        steps[starts], mean, low, high, None if times is None else np.asarray(times)[starts], True
    )
