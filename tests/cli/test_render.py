from __future__ import annotations

import math

import pytest

from labledger.cli import render


def test_sparkline_scales_series_into_blocks() -> None:
    assert render.sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == render.SPARK_BLOCKS
    assert render.sparkline([]) == ""
    assert render.sparkline([3, 3, 3]) == "▄▄▄"
    assert render.sparkline([1, math.nan, 2]) == "▁ █"
    assert len(render.sparkline(list(range(1000)), width=20)) == 20


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (3.25, "3.2s"), (65, "1m05s"), (3700, "1h01m"), (200000, "2d07h")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert render.format_duration(seconds) == text


def test_format_value() -> None:
    assert render.format_value(None) == "—"
    assert render.format_value(0.123456789) == "0.1235"
    assert render.format_value(3) == "3"
    assert render.format_value(True) == "true"
    assert render.format_value(math.nan) == "nan"
    assert render.format_value({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert render.format_value("x" * 50, max_length=10) == "x" * 9 + "…"
    assert render.format_field("memory_total_bytes", 2**30) == "1.0 GiB"
    assert render.format_relative(1000.0, now=1000.0 + 7200) == "2h ago"
