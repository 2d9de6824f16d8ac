"""The writer's columnizing: uniform and mixed key sets give the same columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labledger.sdk.writer import Writer


def columnize(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list]]:
    writer = Writer(None, "r")  # type: ignore[arg-type]  # columnizing never touches a store
    columns = writer._columnize(points)
    return {k: (c.steps.tolist(), c.values.tolist()) for k, c in columns.items()}


def naive(points: list[tuple[float, int, dict[str, Any]]]) -> dict[str, tuple[list, list]]:
    result: dict[str, tuple[list, list]] = {}
    for _, step, data in points:
        for key, value in data.items():
            steps, values = result.setdefault(key, ([], []))
            steps.append(step)
            values.append(float(value))
    return result


keys = st.sampled_from(["loss", "acc", "val/loss", "lr"])
point_dicts = st.dictionaries(keys, st.floats(allow_nan=False, width=64), min_size=1)


@given(st.lists(point_dicts, min_size=1, max_size=30))
def test_columns_match_a_point_by_point_reference(dicts: list[dict[str, float]]) -> None:
    points = [(float(i), i, d) for i, d in enumerate(dicts)]
    assert columnize(points) == naive(points)


def test_numpy_and_bool_values_and_non_scalars(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        (0.0, 0, {"a": np.float32(0.5), "flag": True}),
        (1.0, 1, {"a": np.int64(2), "flag": False}),
        (2.0, 2, {"a": np.zeros(3), "flag": True}),
    ]
    result = columnize(points)
    assert result["flag"] == ([0, 1, 2], [1.0, 0.0, 1.0])
    assert result["a"] == ([0, 1], [0.5, 2.0])  # the array point is skipped, with a warning
    assert "non-numeric" in caplog.text
    vectors = [(0.0, 0, {"v": np.zeros(3), "x": 1.0}), (1.0, 1, {"v": np.ones(3)})]
    assert columnize(vectors) == {"x": ([0], [1.0])}
    assert "not a scalar" in caplog.text
