"""Inline SVG charts for the HTML report: metric curves of several runs, and intervals.

Plain strings built from numbers; every piece of text goes through ``esc`` (``html.escape``),
so a run called ``<script>`` is drawn as those characters.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = (
    "#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951",
    "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0",
)  # fmt: skip
WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def tick(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class Line:
    label: str
    steps: Sequence[float]
    values: Sequence[float]
    colour: str


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    return low, high


def line_chart(title: str, lines: Sequence[Line]) -> str:
    """Curves of one metric, one polyline per run (NaN/inf break the line)."""
    x0, x1 = _bounds([s for line in lines for s in line.steps])
    y0, y1 = _bounds([v for line in lines for v in line.values])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = y0 + frac * (y1 - y0)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            'class="grid"/>'
            f'<text x="{LEFT - 4}" y="{py(y) + 4:.1f}" class="tick" text-anchor="end">'
            f"{esc(tick(y))}</text>"
        )
    for frac, anchor in ((0.0, "start"), (1.0, "end")):
        x = x0 + frac * (x1 - x0)
        parts.append(
            f'<text x="{px(x):.1f}" y="{HEIGHT - 8}" class="tick" text-anchor="{anchor}">'
            f"{esc(tick(x))}</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" class="tick" '
        'text-anchor="middle">step</text>'
    )
    for i, line in enumerate(lines):
        segments: list[list[str]] = [[]]
        for s, v in zip(line.steps, line.values, strict=True):
            if math.isfinite(v):
                segments[-1].append(f"{px(s):.1f},{py(v):.1f}")
            elif segments[-1]:
                segments.append([])
        parts.append(
            f'<g class="run run-{i}" stroke="{line.colour}"><title>{esc(line.label)}</title>'
        )
        for points in segments:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{line.colour}"/>')
            elif points:
                parts.append(f'<polyline points="{" ".join(points)}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Interval:
    label: str
    value: float | None
    low: float | None
    high: float | None
    strong: bool = False


def interval_chart(rows: Sequence[Interval], *, zero: bool = True, label_width: int = 170) -> str:
    """One row per item: a dot at the value and a bar over its interval (a forest plot);
    ``zero`` draws the zero line so intervals that exclude it stand out."""
    row_h, width = 22, 560
    height = TOP + row_h * max(1, len(rows)) + 8
    numbers = [x for r in rows for x in (r.value, r.low, r.high) if x is not None]
    if zero:
        numbers.append(0.0)
    x0, x1 = _bounds(numbers)
    pad = (x1 - x0) * 0.05
    x0, x1 = x0 - pad, x1 + pad
    plot_w = width - label_width - 60

    def px(x: float) -> float:
        return label_width + (x - x0) / (x1 - x0) * plot_w

    parts = [f'<svg class="intervals" viewBox="0 0 {width} {height}" role="img">']
    if zero and x0 < 0 < x1:
        parts.append(
            f'<line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{TOP - 6}" y2="{height - 4}" '
            'class="zero"/>'
        )
    for i, row in enumerate(rows):
        y = TOP + i * row_h + row_h / 2
        cls = "strong" if row.strong else "weak"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 4:.1f}" text-anchor="end" class="label {cls}">'
            f"{esc(row.label)}</text>"
        )
        if row.low is not None and row.high is not None:
            parts.append(
                f'<line x1="{px(row.low):.1f}" x2="{px(row.high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'class="ci {cls}"/>'
            )
        if row.value is not None:
            parts.append(f'<circle cx="{px(row.value):.1f}" cy="{y:.1f}" r="4" class="dot {cls}"/>')
            parts.append(
                f'<text x="{width - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                f"{esc(tick(row.value))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
