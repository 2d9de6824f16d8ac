"""Downsampling for plots keeps each bucket's extremes, NaN or not."""

from __future__ import annotations

import numpy as np
import pytest

from labledger.sdk.series import downsample


@pytest.mark.parametrize("with_nan", [False, True])
def test_downsample_keeps_extremes(with_nan: bool) -> None:
    steps = np.arange(100_000)
    values = np.sin(steps / 1000.0)
    values[31_337], values[77_777] = 9.0, -9.0
    if with_nan:
        values[::97] = np.nan
    sampled = downsample(steps, values, 500)
    assert len(sampled.steps) <= 501
    assert np.nanmax(sampled.values) == 9.0 and np.nanmin(sampled.values) == -9.0
    assert {31_337, 77_777} <= set(sampled.steps.tolist())
    assert not np.isnan(sampled.values).any()
    assert np.all(np.diff(sampled.steps) >= 0)


def test_short_series_is_returned_whole_and_bad_sizes_refused() -> None:
    steps, values = np.arange(10), np.arange(10.0)
    assert downsample(steps, values, 50).steps.tolist() == list(range(10))
    with pytest.raises(ValueError, match="positive"):
        downsample(steps, values, 0)
