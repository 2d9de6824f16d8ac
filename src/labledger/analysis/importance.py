"""Parameter importance: which config keys move a metric, with bootstrap confidence intervals.

Two numbers per key: a correlation (Spearman or Pearson for numbers, the correlation ratio η
for categories) and a model-based importance (held-out permutation importance of a random
forest, see ``labledger.analysis.forest``). Both come with 95% percentile-bootstrap intervals
over runs, and ``ImportanceResult.method`` explains them in words. Deterministic given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from labledger.analysis.bootstrap import (
    correlation_ratio,
    percentile_ci,
    resample_counts,
    t_975,
    weighted_pearson,
    weighted_ranks,
)
from labledger.analysis.features import Dropped, Feature, Kind, build_features
from labledger.analysis.forest import ForestOptions, permutation_importance
from labledger.errors import LabledgerError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["ForestOptions", "ImportanceResult", "KeyImportance", "parameter_importance"]

Correlation = Literal["spearman", "pearson"]
MIN_RUNS = 5  # below this nothing is estimated
TRUST_RUNS = 20  # below this (or fewer than two runs per key) the result carries a warning
RUNS_PER_KEY = 2


@dataclass
class KeyImportance:
    key: str
    kind: Kind
    correlation: float | None
    correlation_ci: tuple[float, float] | None
    importance: float | None
    importance_ci: tuple[float, float] | None
    missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "correlation": self.correlation,
            "correlation_ci": list(self.correlation_ci) if self.correlation_ci else None,
            "importance": self.importance,
            "importance_ci": list(self.importance_ci) if self.importance_ci else None,
            "missing": self.missing,
        }


@dataclass
class ImportanceResult:
    """Keys ranked by importance (most important first); see ``method`` for what they mean."""

    metric: str
    n_runs: int
    method: str
    warning: str | None
    keys: list[KeyImportance]
    dropped: list[Dropped] = field(default_factory=list)
    runs_without_metric: int = 0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n_runs": self.n_runs,
            "method": self.method,
            "warning": self.warning,
            "keys": [k.to_dict() for k in self.keys],
            "dropped": [d.to_dict() for d in self.dropped],
            "runs_without_metric": self.runs_without_metric,
            "seed": self.seed,
        }


def parameter_importance(
    configs: Sequence[Mapping[str, Any]],
    values: Sequence[float | None],
    metric: str,
    *,
    correlation: Correlation = "spearman",
    seed: int = 0,
    resamples: int = 1000,
    forest: ForestOptions | None = None,
    flat: bool = False,
) -> ImportanceResult:
    """Importance of each config key for ``metric``; ``configs[i]`` and ``values[i]`` belong
    to run ``i`` (runs whose value is missing or not finite are left out)."""
    import numpy as np

    if len(configs) != len(values):
        raise LabledgerError(f"{len(configs)} configs but {len(values)} metric values")
    if correlation not in ("spearman", "pearson"):
        raise LabledgerError(f"unknown correlation {correlation!r}: use spearman or pearson")
    if resamples < 10:
        raise LabledgerError(f"resamples must be at least 10, got {resamples}")
    forest = forest or ForestOptions()
    keep = [i for i, v in enumerate(values) if _finite(v)]
    y = np.array([float(values[i]) for i in keep], dtype=np.float64)  # type: ignore[arg-type]
    features, dropped = build_features([configs[i] for i in keep], flat=flat)
    n = len(keep)
    result = ImportanceResult(
        metric=metric,
        n_runs=n,
        method=describe_method(metric, correlation, resamples, forest, seed),
        warning=trust_warning(n, len(features)),
        keys=[],
        dropped=dropped,
        runs_without_metric=len(values) - n,
        seed=seed,
    )
    if n < MIN_RUNS or not features or float(np.var(y)) == 0.0:
        if n >= MIN_RUNS and features:
            result.warning = f"{metric} has the same value in every run: nothing to explain"
        result.keys = [
            KeyImportance(f.key, f.kind, None, None, None, None, f.missing) for f in features
        ]
        return result

    rng = np.random.default_rng(seed)
    weights = resample_counts(rng, n, resamples)
    y_ranks = weighted_ranks(y, weights) if correlation == "spearman" else None
    model = permutation_importance(features, y, rng, forest)
    for i, feature in enumerate(features):
        point, samples = _correlation(feature, y, weights, correlation, y_ranks)
        imp = model[:, i]
        finite = imp[np.isfinite(imp)]
        result.keys.append(
            KeyImportance(
                key=feature.key,
                kind=feature.kind,
                correlation=point,
                correlation_ci=percentile_ci(samples) if point is not None else None,
                importance=float(finite.mean()) if finite.size else None,
                importance_ci=percentile_ci(imp),
                missing=feature.missing,
            )
        )
    result.keys.sort(key=_rank)
    return result


def _finite(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _rank(k: KeyImportance) -> tuple[float, float, str]:
    importance = -k.importance if k.importance is not None else math.inf
    corr = -abs(k.correlation) if k.correlation is not None else math.inf
    return importance, corr, k.key


def _correlation(
    feature: Feature,
    y: FloatArray,
    weights: FloatArray,
    method: Correlation,
    y_ranks: FloatArray | None,
) -> tuple[float | None, FloatArray]:
    """The correlation on all runs and its value in every resample."""
    import numpy as np

    ones = np.ones((1, len(y)))
    if feature.kind == "categorical":
        assert feature.codes is not None
        levels = len(feature.levels)
        point = correlation_ratio(feature.codes, levels, y, ones)[0]
        samples = correlation_ratio(feature.codes, levels, y, weights)
        return (None if np.isnan(point) else float(point)), samples
    assert feature.values is not None
    present = ~np.isnan(feature.values)
    x, yp, w = feature.values[present], y[present], weights[:, present]
    if method == "spearman":
        ranks_y = y_ranks if present.all() and y_ranks is not None else weighted_ranks(yp, w)
        point = weighted_pearson(_ranks(x), _ranks(yp), ones[:, : len(x)])[0]
        samples = weighted_pearson(weighted_ranks(x, w), ranks_y, w)
    else:
        point = weighted_pearson(x, yp, ones[:, : len(x)])[0]
        samples = weighted_pearson(x, yp, w)
    return (None if np.isnan(point) else float(point)), samples


def _ranks(x: FloatArray) -> FloatArray:
    import numpy as np

    ranks: FloatArray = weighted_ranks(x, np.ones((1, len(x))))[0]
    return ranks


def critical_correlation(n: int) -> float:
    """The smallest |r| that is significant at the two-sided 5% level with ``n`` runs."""
    if n < 4:
        return 1.0
    q = t_975(n - 2)
    return q / math.sqrt(n - 2 + q * q)


def trust_warning(n: int, keys: int) -> str | None:
    """Why a result over ``n`` runs and ``keys`` varying keys should not be trusted, if so."""
    if n < MIN_RUNS:
        return (
            f"Only {n} run(s) with this metric: at least {MIN_RUNS} are needed to estimate "
            "anything, and 20 or more to trust a ranking."
        )
    if n >= TRUST_RUNS and n >= RUNS_PER_KEY * keys:
        return None
    return (
        f"Only {n} runs for {keys} varying keys: with fewer than {TRUST_RUNS} runs, or fewer "
        f"than {RUNS_PER_KEY} runs per key, chance alone produces correlations up to "
        f"±{critical_correlation(n):.2f} (the 95% significance threshold at n={n}) and the "
        "forest's ranking changes from resample to resample; treat this as a hint and record "
        "more runs."
    )


def describe_method(
    metric: str, correlation: Correlation, resamples: int, forest: ForestOptions, seed: int
) -> str:
    """What each number means and how it was computed, in plain words."""
    corr = (
        "Spearman rank correlation (−1..1: +1 when a larger value always gives a larger "
        f"{metric}, whatever the shape)"
        if correlation == "spearman"
        else f"Pearson correlation (−1..1, the strength of a straight-line relation with {metric})"
    )
    return (
        f"Correlation: for a numeric or boolean key, the {corr}, over the runs that set the "
        "key; for a categorical key, the correlation ratio η (0..1: how much of the metric's "
        "spread the key's groups explain; it has no sign and is never below zero, so read its "
        "interval against the importance). "
        f"Importance: a random forest ({forest.trees} trees, scikit-learn) predicts {metric} "
        "from all keys at once, categorical keys one-hot encoded and a missing numeric value "
        "given an out-of-range number. A key's importance is how much the forest's squared "
        "error on runs it was not trained on grows when that key's values are shuffled among "
        f"those runs ({forest.repeats} shuffles), as a fraction of {metric}'s variance: 0.3 "
        "means shuffling the key costs 30% of the variance, about 0 means the forest does not "
        "need the key (negative values are noise). Unlike the correlation it sees interactions "
        "and non-monotone effects, and it credits each key only for what the others do not "
        "explain. "
        f"Intervals: 95% percentile bootstrap over runs ({resamples} resamples for "
        f"correlations; {forest.resamples} for importance, the forest refitted on each "
        "resample and scored on the runs it left out). An interval that excludes 0 means the "
        "key's effect is unlikely to be chance. Keys with one value in every run, and "
        f"categorical keys different in every run, are left out. Random seed {seed}."
    )
