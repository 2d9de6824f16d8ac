"""Metric histories for readers: ``History`` tuples and downsampling for plots."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


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
