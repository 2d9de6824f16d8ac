"""Model-based importance: held-out permutation importance of a random forest, bootstrapped.

For each bootstrap resample of the runs a forest is fitted on the resample and scored on the
runs the resample left out; a key's importance is how much that held-out squared error grows
when the key's values are shuffled among those runs (all one-hot columns of a categorical key
move together, so the importance is per key, not per column), divided by the metric's variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labledger.analysis.features import Feature
from labledger.errors import MissingExtra

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ForestOptions:
    """How the forest is built and how often it is refitted."""

    resamples: int = 25
    trees: int = 8
    min_samples_leaf: int = 2
    max_features: float = 0.6
    repeats: int = 2  # shuffles per key and resample, averaged


def design_matrix(features: Sequence[Feature]) -> tuple[FloatArray, list[slice]]:
    """All features side by side, and the columns each one occupies."""
    import numpy as np

    blocks, slices, start = [], [], 0
    for feature in features:
        columns = feature.design_columns()
        blocks.append(columns)
        slices.append(slice(start, start + columns.shape[1]))
        start += columns.shape[1]
    return np.hstack(blocks), slices


def permutation_importance(
    features: Sequence[Feature],
    y: FloatArray,
    rng: np.random.Generator,
    options: ForestOptions,
) -> FloatArray:
    """``resamples × keys`` held-out permutation importances (NaN rows for resamples that
    left fewer than two runs out)."""
    import numpy as np

    try:
        from sklearn import config_context
        from sklearn.tree import DecisionTreeRegressor
    except ImportError:
        raise MissingExtra("scikit-learn", "ui") from None

    x, slices = design_matrix(features)
    x = np.ascontiguousarray(x, dtype=np.float32)  # the trees' own dtype: no copies per fit
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = len(y)
    variance = float(np.var(y))
    result = np.full((options.resamples, len(features)), np.nan)
    if variance <= 0.0:
        return result
    # One legacy RandomState shared by the trees: sklearn would build a new one per tree.
    tree_rng = np.random.RandomState(int(rng.integers(0, 2**31 - 1)))
    for b in range(options.resamples):
        drawn = rng.integers(0, n, n)
        held_out = np.setdiff1d(np.arange(n), drawn)
        if len(held_out) < 2:
            continue
        x_out, y_out = x[held_out], y[held_out]
        queries = np.vstack([x_out, *_shuffled_copies(x_out, slices, options.repeats, rng)])
        predictions = np.zeros(len(queries))
        # A random forest built tree by tree, inputs validated once: sklearn's
        # RandomForestRegressor spends ~20 ms of joblib dispatch and checks per fit and per
        # predict, more than the trees themselves take at a few hundred runs.
        with config_context(assume_finite=True, skip_parameter_validation=True):
            for _ in range(options.trees):
                rows = drawn[rng.integers(0, n, n)]
                tree = DecisionTreeRegressor(
                    min_samples_leaf=options.min_samples_leaf,
                    max_features=options.max_features,
                    random_state=tree_rng,
                )
                tree.fit(x[rows], y[rows], check_input=False)
                predictions += tree.predict(queries, check_input=False)
        predictions /= options.trees
        m = len(held_out)
        errors = ((predictions.reshape(-1, m) - y_out) ** 2).mean(axis=1)
        base, permuted = errors[0], errors[1:].reshape(len(features), options.repeats)
        result[b] = (permuted.mean(axis=1) - base) / variance
    return result


def _shuffled_copies(
    x: FloatArray, slices: Sequence[slice], repeats: int, rng: np.random.Generator
) -> list[FloatArray]:
    """For each key and repeat, ``x`` with that key's columns shuffled across the rows."""
    copies = []
    for columns in slices:
        for _ in range(repeats):
            copy = x.copy()
            copy[:, columns] = x[rng.permutation(len(x))][:, columns]
            copies.append(copy)
    return copies
