"""Turn runs' configs into analysable columns: one ``Feature`` per flattened config key.

Nested keys are flattened to dotted names; a key whose values are all numbers is ``numeric``,
all booleans ``boolean``, anything else (strings, lists, ``None``, mixed) ``categorical``.
Keys with a single value across the runs are dropped, as are categorical keys whose value is
different in every run (identifiers such as paths or names carry nothing to learn from).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from labledger.encoding import flatten

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

Kind = Literal["numeric", "boolean", "categorical"]
MISSING = "<missing>"
OTHER = "<other>"
MAX_LEVELS = 30  # one-hot columns per categorical key; rarer values share one "<other>" level


@dataclass
class Feature:
    """One config key as columns for the analysis.

    ``values`` holds the numeric value per run (NaN where the run lacks the key) for numeric and
    boolean keys; ``codes`` holds the level index per run for categorical keys (``levels[code]``).
    """

    key: str
    kind: Kind
    missing: int
    values: FloatArray | None = None
    codes: IntArray | None = None
    levels: tuple[str, ...] = ()

    def design_columns(self) -> FloatArray:
        """Columns for a tree model: the value (an out-of-range number where missing), or one
        one-hot column per level."""
        import numpy as np

        if self.kind == "categorical":
            assert self.codes is not None
            onehot = np.zeros((len(self.codes), len(self.levels)))
            onehot[np.arange(len(self.codes)), self.codes] = 1.0
            return onehot
        assert self.values is not None
        present = self.values[~np.isnan(self.values)]
        low, high = float(present.min()), float(present.max())
        filled = np.where(np.isnan(self.values), low - max(high - low, 1.0), self.values)
        return filled.reshape(-1, 1)


@dataclass(frozen=True)
class Dropped:
    key: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "reason": self.reason}


def label(value: Any) -> str:
    """A config value as the text of a category (lists and dicts as compact JSON)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_features(
    configs: Sequence[Mapping[str, Any]], *, flat: bool = False
) -> tuple[list[Feature], list[Dropped]]:
    """One ``Feature`` per config key that varies across ``configs`` (nested mappings are
    flattened unless ``flat``), in key order, and the keys dropped with the reason."""
    rows = [dict(c) if flat else flatten(c) for c in configs]
    keys = sorted({key for row in rows for key in row})
    features: list[Feature] = []
    dropped: list[Dropped] = []
    for key in keys:
        column = [row.get(key, _ABSENT) for row in rows]
        feature, reason = _feature(key, column)
        if feature is None:
            dropped.append(Dropped(key, reason))
        else:
            features.append(feature)
    return features, dropped


class _Absent:
    def __repr__(self) -> str:
        return MISSING


_ABSENT: Any = _Absent()


def _feature(key: str, column: list[Any]) -> tuple[Feature | None, str]:
    import numpy as np

    def absent(v: Any) -> bool:
        return v is _ABSENT or (isinstance(v, float) and not math.isfinite(v))

    present = [v for v in column if not absent(v)]
    missing = len(column) - len(present)
    if all(isinstance(v, bool) for v in present) and present:
        kind: Kind = "boolean"
    elif all(_is_number(v) for v in present) and present:
        kind = "numeric"
    else:
        kind = "categorical"
    if kind != "categorical":
        values = np.array([np.nan if absent(v) else float(v) for v in column])
        distinct = len(set(values[~np.isnan(values)].tolist()))
        if distinct >= 2:
            return Feature(key, kind, missing, values=values), ""
        if missing == 0:
            return None, "constant"
        # One value where present: what varies is only whether the key is set.
    labels = [MISSING if absent(v) else label(v) for v in column]
    counts: dict[str, int] = {}
    for text in labels:
        counts[text] = counts.get(text, 0) + 1
    if len(counts) < 2:
        return None, "constant"
    if len(counts) == len(labels) and len(labels) > 2:
        return None, "a different value in every run (an identifier)"
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    kept = ranked[:MAX_LEVELS] if len(ranked) <= MAX_LEVELS else ranked[: MAX_LEVELS - 1]
    levels = tuple(sorted(kept)) + ((OTHER,) if len(kept) < len(ranked) else ())
    index = {text: i for i, text in enumerate(levels)}
    other = index.get(OTHER, -1)
    codes = np.array([index.get(text, other) for text in labels], dtype=np.int64)
    return Feature(key, "categorical", missing, codes=codes, levels=levels), ""
