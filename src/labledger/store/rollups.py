"""Multi-resolution summaries of metric series ("rollups"), so a chart of a long series, or
of any zoomed step range, is read without the raw points.

Buckets are aligned on steps: at level ``L`` a point at step ``s`` is in bucket
``s >> L`` (width ``2**L`` steps). Per bucket: how many points (``total``), how many are
not NaN (``n``), their sum, minimum and maximum (NaN ignored, like ``numpy.fmin``) and the
value logged last. These merge exactly (sums add, minima take the minimum, the later
chunk's last wins), so each flush stores the rollups of its own chunk at every level and a
reader merges the chunks' rollups: the envelope is exact, a single spike stays visible.

Keys logged together share their steps: ``chunk_rollups`` takes their values as one
``keys x points`` matrix and computes every key's buckets in the same numpy calls (``n``,
``sum``, ``min``, ``max`` and ``last`` are then ``keys x buckets``; ``row`` picks one key's).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVELS = (4, 6, 8, 10, 12, 14)  # bucket widths 16 ... 16,384 steps
_FIELDS = 7  # bucket, total, n (int64); sum, min, max, last (float64)


@dataclass
class Buckets:
    """Aggregates of step-aligned buckets, sorted by bucket."""

    bucket: Any  # int64
    total: Any  # int64: points
    n: Any  # int64: points that are not NaN
    sum: Any  # float64, over the points that are not NaN
    min: Any  # float64 (NaN when every point is NaN)
    max: Any
    last: Any  # float64: the value logged last in the bucket

    def __len__(self) -> int:
        return len(self.bucket)

    def encode(self) -> bytes:
        ints = np.concatenate([self.bucket, self.total, self.n]).astype("<i8")
        floats = np.concatenate([self.sum, self.min, self.max, self.last]).astype("<f8")
        return ints.tobytes() + floats.tobytes()

    @staticmethod
    def decode(data: bytes) -> Buckets:
        m = len(data) // (8 * _FIELDS)
        ints = np.frombuffer(data, dtype="<i8", count=3 * m)
        floats = np.frombuffer(data, dtype="<f8", offset=24 * m)
        return Buckets(
            ints[:m],
            ints[m : 2 * m],
            ints[2 * m :],
            *(floats[i * m : (i + 1) * m] for i in range(4)),
        )

    @property
    def mean(self) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sum / self.n
        return np.where(self.n > 0, mean, np.nan)


def empty() -> Buckets:
    i, f = np.empty(0, np.int64), np.empty(0, np.float64)
    return Buckets(i, i, i, f, f, f, f)


def row(buckets: Buckets, i: int) -> Buckets:
    """Key ``i``'s buckets out of the buckets of a ``keys x points`` matrix."""
    b = buckets
    return Buckets(b.bucket, b.total, b.n[i], b.sum[i], b.min[i], b.max[i], b.last[i])


def encode_rows(buckets: Buckets) -> list[bytes]:
    """``row(buckets, i).encode()`` for every key ``i`` of a matrix's buckets, at once."""
    k, m = buckets.n.shape
    ints = np.empty((k, 3 * m), dtype="<i8")
    ints[:, :m] = buckets.bucket
    ints[:, m : 2 * m] = buckets.total
    ints[:, 2 * m :] = buckets.n
    floats = np.concatenate([buckets.sum, buckets.min, buckets.max, buckets.last], axis=1)
    both = np.concatenate([ints.view(np.uint8), floats.astype("<f8").view(np.uint8)], axis=1)
    return [r.tobytes() for r in both]


def _reduce(keys: Any, parts: Buckets) -> Buckets:
    """Merge entries with equal ``keys`` (``keys`` sorted, entries in logged order within a
    key); value fields may be ``keys x entries`` matrices (reduced along their rows)."""
    if len(keys) == 0:
        return empty()
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    ends = np.append(starts[1:], len(keys)) - 1
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, as in a sum
        sums = np.add.reduceat(parts.sum, starts, axis=-1)
    return Buckets(
        keys[starts],
        np.add.reduceat(parts.total, starts),
        np.add.reduceat(parts.n, starts, axis=-1),
        sums,
        np.fmin.reduceat(parts.min, starts, axis=-1),
        np.fmax.reduceat(parts.max, starts, axis=-1),
        parts.last[..., ends],
    )


def from_points(steps: Any, values: Any, level: int) -> Buckets:
    """The buckets of raw points at ``level`` (``values``: one series, or a ``keys x
    points`` matrix of series sharing ``steps``)."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    keys = steps >> level
    if len(keys) > 1 and not np.all(keys[1:] >= keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[..., order]
    nan = np.isnan(values)
    ones = np.ones(len(keys), dtype=np.int64)
    points = Buckets(
        keys, ones, (~nan).astype(np.int64), np.where(nan, 0.0, values), values, values, values
    )
    return _reduce(keys, points)


def coarsen(buckets: Buckets, shift: int) -> Buckets:
    """The same data in buckets ``2**shift`` times wider."""
    return _reduce(buckets.bucket >> shift, buckets) if shift else buckets


def chunk_rollups(steps: Any, values: Any) -> list[tuple[int, Buckets]]:
    """(level, buckets) at every level of ``LEVELS`` for one chunk (one series or a matrix of
    series sharing ``steps``): the finest from the points, each next one from the previous."""
    out = []
    current = from_points(steps, values, LEVELS[0])
    out.append((LEVELS[0], current))
    for previous, level in itertools.pairwise(LEVELS):
        current = coarsen(current, level - previous)
        out.append((level, current))
    return out


def merge(parts: list[Buckets]) -> Buckets:
    """Buckets of several chunks (in logged order) merged into one sorted set."""
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    joined = Buckets(*(np.concatenate([getattr(p, f) for p in parts]) for f in _NAMES))
    order = np.argsort(joined.bucket, kind="stable")
    return _reduce(joined.bucket[order], Buckets(*(getattr(joined, f)[order] for f in _NAMES)))


_NAMES = ("bucket", "total", "n", "sum", "min", "max", "last")


def clip(buckets: Buckets, level: int, start: int | None, end: int | None) -> Buckets:
    """The buckets that hold steps in ``[start, end]`` (whole buckets: aligned)."""
    keep = np.ones(len(buckets), dtype=bool)
    if start is not None:
        keep &= buckets.bucket >= (start >> level)
    if end is not None:
        keep &= buckets.bucket <= (end >> level)
    if keep.all():
        return buckets
    return Buckets(*(getattr(buckets, f)[keep] for f in _NAMES))


def level_for(span: int, points: int) -> int | None:
    """The finest level whose buckets over ``span`` steps number at most ``points``."""
    for level in LEVELS:
        if (span >> level) + 2 <= points:
            return level
    return None


@dataclass
class SeriesEnvelope:
    """A chart's view of a series. ``level`` None: the points themselves (``mean`` = ``min``
    = ``max`` = the values, ``count`` all ones). Otherwise one entry per step-aligned
    bucket of ``2**level`` steps: its first step, the mean, minimum and maximum of its
    values that are not NaN, its number of points."""

    key: str
    steps: Any
    mean: Any
    min: Any
    max: Any
    count: Any
    level: int | None
    total: int  # points in the buckets (or the points returned)

    @property
    def downsampled(self) -> bool:
        return self.level is not None

    @staticmethod
    def of_points(key: str, steps: Any, values: Any) -> SeriesEnvelope:
        values = np.asarray(values, dtype=np.float64)
        ones = np.ones(len(values), dtype=np.int64)
        return SeriesEnvelope(key, np.asarray(steps), values, values, values, ones, None, len(ones))

    @staticmethod
    def of_buckets(key: str, buckets: Buckets, level: int) -> SeriesEnvelope:
        return SeriesEnvelope(
            key,
            buckets.bucket << level,
            buckets.mean,
            buckets.min,
            buckets.max,
            buckets.total,
            level,
            int(buckets.total.sum()),
        )


def fit(buckets: Buckets, level: int, points: int) -> tuple[Buckets, int]:
    """Coarsen until at most ``points`` buckets remain."""
    while len(buckets) > points:
        buckets, level = coarsen(buckets, 1), level + 1
    return buckets, level


def envelope_of_points(
    key: str,
    read: Callable[[int | None, int | None], tuple[Any, Any]],
    points: int,
    start: int | None,
    end: int | None,
) -> SeriesEnvelope:
    """What ``Store.read_envelope`` answers, computed from raw points: ``read(start, end)``
    gives the (steps, values) between two steps. Edge buckets are whole, as with rollups."""
    steps, values = read(start, end)
    if len(steps) <= points:
        return SeriesEnvelope.of_points(key, steps, values)
    lo = int(steps.min()) if start is None else start
    hi = int(steps.max()) if end is None else end
    span = hi - lo + 1
    level = 0 if span <= points else (level_for(span, points) or LEVELS[-1])
    if level and (start is not None or end is not None):
        aligned_start = None if start is None else (start >> level) << level
        aligned_end = None if end is None else (((end >> level) + 1) << level) - 1
        steps, values = read(aligned_start, aligned_end)
    buckets = clip(from_points(steps, values, level), level, start, end)
    buckets, level = fit(buckets, level, points)
    return SeriesEnvelope.of_buckets(key, buckets, level)
