"""Renders the collected cells as ``latest.md`` (a Markdown table) and ``latest.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import Cell


@dataclass(frozen=True)
class Measure:
    workload: str
    key: str
    label: str
    better: str | None  # "lower", "higher" or None (not a ratio)
    target: float | str | None = None
    scale_free: bool = False  # comparable across different workload scales
    ratio: bool = True  # show a labledger-vs-peer ratio
    either: str | None = None  # also met when this measure (same workload) meets its target


MEASURES = [
    Measure("W0", "import_s", "W0 `import` wall time (s)", "lower", 0.1, True),
    Measure(
        "W1", "us_per_call", "W1 hot loop: µs per log call", "lower", 1.5, True, either="per_floor"
    ),
    Measure(
        "W1",
        "per_floor",
        "W1 hot loop: per call ÷ the floor's, same process",
        "lower",
        2.0,
        ratio=False,
    ),
    Measure("W1", "durable_s", "W1 hot loop: loop + finish until durable (s)", "lower", 1.0),
    Measure("W1", "points_per_s", "W1 hot loop: points/s to durable", "higher", None, True),
    Measure("W1", "init_s", "W1 init (s)", "lower", None, True),
    Measure("W2", "points_per_s", "W2 wide: points/s to durable", "higher", 1_000_000, True),
    Measure("W3", "runs_per_s", "W3 many runs: runs/s", "higher", 100, True),
    Measure("W4", "query_s", "W4 query → DataFrame (s, warm)", "lower", 0.03),
    Measure("W4", "query_cold_s", "W4 first query in process (s)", "lower"),
    Measure("W5", "read_s", "W5 read W1's series (s, warm)", "lower", 0.01),
    Measure("W5", "read_cold_s", "W5 first read in process (s)", "lower"),
    Measure("W6", "recovered_pct", "W6 SIGKILL: points recovered (%)", "higher", 99.99),
    Measure("W6", "run_status", "W6 SIGKILL: status shown", None, "crashed"),
    Measure("W7", "errors", "W7 8 writers: errors", "lower", 0, ratio=False),
    Measure("W7", "lost", "W7 8 writers: points lost", "lower", 0, ratio=False),
    Measure("W7", "wall_s", "W7 8 writers: wall time (s)", "lower"),
    Measure("W8", "query_s", "W8 runs table: filter+sort+first 100 (s, warm)", "lower", 0.1),
    Measure("W8", "query_cold_s", "W8 runs table: first query in process (s)", "lower"),
    Measure("W8", "read_s", "W8 read full series (s, warm)", "lower", 0.05),
    Measure("W8", "downsample_s", "W8 series downsampled to 1,000 (s, warm)", "lower", 0.01),
    Measure("W8", "populated", "W8 populated: runs / series points", None),
]


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)


def meets(measure: Measure, value: Any) -> bool | None:
    target = measure.target
    if target is None:
        return None
    if isinstance(target, str):
        return str(value).lower() == target
    if not isinstance(value, int | float):
        return None
    return value <= target if measure.better == "lower" else value >= target


def target_text(measure: Measure) -> str:
    if measure.target is None:
        return ""
    if measure.either is not None:
        return f"{_target_text(measure)}, or {_target_text(_either(measure))} below"
    return _target_text(measure)


def _either(measure: Measure) -> Measure:
    return next(m for m in MEASURES if (m.workload, m.key) == (measure.workload, measure.either))


def _target_text(measure: Measure) -> str:
    assert measure.target is not None
    if isinstance(measure.target, str) or measure.target == 0:
        return str(measure.target)
    sign = "≤" if measure.better == "lower" else "≥"
    target = measure.target
    exact = isinstance(target, float) and target < 100 and f"{target:.3g}" != repr(target)
    return f"{sign} {target!r}" if exact else f"{sign} {fmt(target)}"


def cell_value(cell: Cell | None, measure: Measure) -> Any:
    if cell is None or cell.status != "ok":
        return None
    if measure.key == "populated":
        if "runs" in cell.scale:
            return f"{cell.scale['runs']:,} / {cell.scale['points']:,}"
        return None
    return cell.values.get(measure.key)


def cell_text(cell: Cell | None, measure: Measure, note: int, is_labledger: bool) -> str:
    if cell is None:
        return ""
    if cell.status != "ok":
        return f"{cell.status} [{note}]" if note else cell.status
    value = cell_value(cell, measure)
    if value is None:
        return ""
    text = fmt(value).replace("|", "/")
    if note:
        text += f" [{note}]"
    if is_labledger:
        ok = meets(measure, value)
        if ok is False and measure.either is not None:
            other = _either(measure)
            ok = meets(other, cell_value(cell, other)) or False
        text += {True: " ✓", False: " ✗", None: ""}[ok]
    return text


def ratio(measure: Measure, ours: Cell | None, theirs: Cell | None) -> str:
    """How many times better labledger is (>1 = labledger better)."""
    if measure.better is None or not measure.ratio or ours is None or theirs is None:
        return ""
    a, b = cell_value(ours, measure), cell_value(theirs, measure)
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return ""
    if not measure.scale_free and ours.scale != theirs.scale:
        return "scale differs"
    if measure.better == "lower":
        if a == 0:
            return "" if b == 0 else "∞"
        r = b / a
    else:
        if b == 0:
            return "∞" if a else ""
        r = a / b
    return f"{r:.2g}×" if r < 10 else f"{r:,.0f}×"


def render_markdown(
    results: dict[str, dict[str, Cell]], trackers: list[str], meta: dict[str, Any]
) -> str:
    peers = [t for t in trackers if t not in ("labledger", "floor")]
    columns = ["Measure", "labledger target", *trackers, *[f"labledger vs {p}" for p in peers]]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    notes: list[str] = []
    note_ids: dict[tuple[str, str], int] = {}
    for workload, cells in results.items():
        for tracker in trackers:
            cell = cells.get(tracker)
            if cell is None:
                continue
            texts = list(cell.notes) if cell.status == "ok" else [cell.reason]
            if texts and any(texts):
                text = " ".join("; ".join(texts).split()).replace("|", "/")
                notes.append(f"{workload} {tracker}: {text[:400]}")
                note_ids[(workload, tracker)] = len(notes)
    for measure in MEASURES:
        cells = results.get(measure.workload)
        if not cells:
            continue
        row = [measure.label, target_text(measure)]
        for tracker in trackers:
            note = note_ids.get((measure.workload, tracker), 0)
            row.append(cell_text(cells.get(tracker), measure, note, tracker == "labledger"))
        for peer in peers:
            row.append(ratio(measure, cells.get("labledger"), cells.get(peer)))
        lines.append("| " + " | ".join(row) + " |")
    out = [
        f"Benchmark run {meta.get('date', '')} · {meta.get('machine', '')} · "
        f"sizes: {meta.get('scale', '')}",
        "",
        *lines,
        "",
    ]
    out.append(
        "✓/✗: labledger meets/misses its target. Ratios: how many times better "
        'labledger is than the peer (>1× = labledger better); "scale differs": '
        "the peer ran at a smaller scale, so totals are not compared."
    )
    if notes:
        out += ["", "Notes:", ""] + [f"{i}. {text}" for i, text in enumerate(notes, 1)]
    out.append("")
    return "\n".join(out)


START, END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme: Path, table: str) -> None:
    """Replace the README's results section (between the markers) with ``table``."""
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table.strip()}\n{END}{tail}")


def write(
    results: dict[str, dict[str, Cell]], trackers: list[str], meta: dict[str, Any], out_dir: Path
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "latest.md"
    js = out_dir / "latest.json"
    md.write_text(render_markdown(results, trackers, meta))
    payload = {
        "meta": meta,
        "results": {w: {t: asdict(c) for t, c in cells.items()} for w, cells in results.items()},
    }
    js.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return md, js
