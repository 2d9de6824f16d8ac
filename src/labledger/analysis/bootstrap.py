"""Bootstrap building blocks shared by importance and significance.

A resample of ``n`` runs is a row of counts (how often each run was drawn), so statistics over
many resamples are weighted sums over one matrix: vectorised, and identical for a given seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

CI_LEVEL = 0.95
Z_975 = 1.959964
# Student's t 97.5% quantiles for 1..30 degrees of freedom; beyond, a Cornish-Fisher series.
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (no scipy needed)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = Z_975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def resample_counts(rng: np.random.Generator, n: int, resamples: int) -> FloatArray:
    """``resamples × n`` draw counts: row ``b`` says how often each run is in resample ``b``."""
    import numpy as np

    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return counts.astype(np.float64)


def percentile_ci(samples: FloatArray, level: float = CI_LEVEL) -> tuple[float, float] | None:
    """The central ``level`` interval of the finite ``samples`` (None when there are none)."""
    import numpy as np

    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def weighted_pearson(a: FloatArray, b: FloatArray, w: FloatArray) -> FloatArray:
    """Pearson correlation of ``a`` and ``b`` under each row of weights ``w`` (``B × n``; ``a``
    and ``b`` are ``n`` or ``B × n``). NaN where either side has no spread."""
    import numpy as np

    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (w * a).sum(axis=1) / total
        mb = (w * b).sum(axis=1) / total
        da = a - ma[:, None]
        db = b - mb[:, None]
        cov = (w * da * db).sum(axis=1)
        va = (w * da * da).sum(axis=1)
        vb = (w * db * db).sum(axis=1)
        r = cov / np.sqrt(va * vb)
    tiny = 1e-12 * np.maximum(1.0, total)
    r[(va <= tiny) | (vb <= tiny) | (total < 3)] = np.nan
    return np.asarray(np.clip(r, -1.0, 1.0), dtype=np.float64)


def weighted_ranks(x: FloatArray, w: FloatArray) -> FloatArray:
    """Average ranks of ``x`` within each weighted resample (``B × n``): the rank a value
    would get if the resample's runs were listed, ties sharing their mean rank."""
    import numpy as np

    unique, inverse = np.unique(x, return_inverse=True)
    groups = np.zeros((len(x), len(unique)))
    groups[np.arange(len(x)), inverse] = 1.0
    group_weight = w @ groups
    below = np.cumsum(group_weight, axis=1) - group_weight
    rank_of_group = below + (group_weight + 1.0) / 2.0
    return np.asarray(rank_of_group[:, inverse], dtype=np.float64)


def correlation_ratio(codes: IntArray, levels: int, y: FloatArray, w: FloatArray) -> FloatArray:
    """η (0..1) of a categorical ``codes`` against ``y`` under each row of weights ``w``: the
    square root of the share of ``y``'s variance explained by the category means."""
    import numpy as np

    onehot = np.zeros((len(codes), levels))
    onehot[np.arange(len(codes)), codes] = 1.0
    count = w @ onehot
    sums = w @ (onehot * y[:, None])
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w @ y) / total
        group_mean = np.where(count > 0, sums / np.where(count > 0, count, 1.0), 0.0)
        between = (count * (group_mean - mean[:, None]) ** 2).sum(axis=1)
        spread = (w * (y - mean[:, None]) ** 2).sum(axis=1)
        eta = np.sqrt(between / spread)
    eta[spread <= 1e-12 * np.maximum(1.0, total)] = np.nan
    return np.asarray(np.clip(eta, 0.0, 1.0), dtype=np.float64)
