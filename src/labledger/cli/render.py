"""Shared terminal rendering for the CLI: the console, value formatting, tables, sparklines.

Everything user-supplied goes into ``Text`` objects, never into markup strings, so a config value
like ``"[red]x"`` prints as written. Rich is imported by the first console, table or text made:
JSON output never loads it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from labledger.encoding import to_jsonable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

STATUS_STYLES = {
    "running": "cyan",
    "finished": "green",
    "failed": "red",
    "crashed": "bold red",
    "killed": "yellow",
}
MISSING_TEXT = "—"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
# When output is piped Rich assumes 80 columns; wider keeps tables greppable instead of folded.
PIPED_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); Rich drops colours itself when it is not a terminal.

    No emoji codes: a run named ``:fire:`` prints as it is named (and Rich's emoji table is
    not loaded for a note that holds a colon)."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if not console.is_terminal:
        width = max(console.width, PIPED_WIDTH)
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False, width=width)
    return console


def text(value: str, style: str = "") -> Text:
    """A Rich ``Text`` of ``value`` (never parsed as markup)."""
    from rich.text import Text

    return Text(value, style=style)


def status_text(status: object) -> Text:
    name = str(status)
    return text(name, STATUS_STYLES.get(name, ""))


def format_number(value: float | int, digits: int = 4) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1e6 else f"{value:.1f}"
    return f"{value:.{digits}g}"


def format_value(value: Any, digits: int = 4, max_length: int | None = None) -> str:
    """One value as short text: numbers to ``digits`` significant digits, containers as JSON."""
    if value is None:
        return MISSING_TEXT
    if isinstance(value, (int, float)):
        text = format_number(value, digits)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(to_jsonable(value), separators=(", ", ": "), ensure_ascii=False)
    if max_length is not None and len(text) > max_length:
        text = text[: max(1, max_length - 1)] + "…"
    return text


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING_TEXT
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_timestamp(ts: float | None) -> str:
    """Local time, ISO 8601 to the second, with the UTC offset."""
    if ts is None:
        return MISSING_TEXT
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def format_relative(ts: float | None, now: float | None = None) -> str:
    """``42s ago``, ``5m ago``, ``3h ago``, ``2d ago``; older than 30 days as a date."""
    if ts is None:
        return MISSING_TEXT
    age = (time.time() if now is None else now) - ts
    if age < 0:
        return format_timestamp(ts)
    if age < 5:
        return "just now"
    if age < 60:
        return f"{int(age)}s ago"
    if age < 3600:
        return f"{int(age // 60)}m ago"
    if age < 86400:
        return f"{int(age // 3600)}h ago"
    if age < 30 * 86400:
        return f"{int(age // 86400)}d ago"
    return dt.datetime.fromtimestamp(ts).date().isoformat()


def format_bytes(size: float | None) -> str:
    if size is None:
        return MISSING_TEXT
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_field(key: str, value: Any, digits: int = 6) -> str:
    """A value whose key says how to show it: ``*_bytes`` as sizes, ``runtime`` as a duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if key.endswith("_bytes"):
            return format_bytes(value)
        if key == "runtime":
            return format_duration(value)
    return format_value(value, digits)


def sparkline(values: Any, width: int = 24) -> str:
    """A series as ``width`` unicode block characters (bucket means; NaN buckets blank)."""
    import numpy as np  # only commands that draw a series pay for it

    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return ""
    data = np.where(np.isfinite(data), data, np.nan)
    if data.size > width:
        buckets = np.array_split(data, width)
        data = np.array([_nanmean(b) for b in buckets])
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return " " * data.size
    low, high = float(finite.min()), float(finite.max())
    span = high - low
    chars = []
    for v in data:
        if not math.isfinite(v):
            chars.append(" ")
        elif span == 0:
            chars.append(SPARK_BLOCKS[len(SPARK_BLOCKS) // 2 - 1])
        else:
            level = round((float(v) - low) / span * (len(SPARK_BLOCKS) - 1))
            chars.append(SPARK_BLOCKS[level])
    return "".join(chars)


def _nanmean(bucket: Any) -> float:
    import numpy as np

    finite = bucket[np.isfinite(bucket)]
    return float(finite.mean()) if finite.size else math.nan


def key_value_table(
    rows: Iterable[tuple[str, Any]], title: str | None = None, digits: int = 6
) -> Table:
    """A borderless two-column table of ``key  value`` rows (values formatted by key)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        box=None,
        show_header=False,
        title=title,
        title_justify="left",
        title_style="bold",
        padding=(0, 2, 0, 2),
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        cell = value if isinstance(value, Text) else Text(format_field(key, value, digits))
        table.add_row(Text(key), cell)
    return table


def data_table(title: str | None = None) -> Table:
    """The standard table style for lists of runs and metrics."""
    from rich import box
    from rich.table import Table

    return Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        title_style="bold",
        header_style="bold",
        pad_edge=False,
        show_edge=False,
    )


def cell_width(value: str) -> int:
    """Terminal cells ``value`` takes: wide East Asian characters two, combining marks none."""
    if value.isascii():
        return len(value)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in value
    )


def plain_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool]
) -> list[str]:
    """A table as aligned lines of text, columns two spaces apart (``right``: the columns
    justified right): what ``data_table`` shows, without Rich, for output that is piped."""
    body = [list(headers), *(list(row) for row in rows)]
    widths = [max(cell_width(row[i]) for row in body) for i in range(len(headers))]
    lines = []
    for row in body:
        cells = []
        for cell, width, to_right in zip(row, widths, right, strict=True):
            pad = " " * (width - cell_width(cell))
            cells.append(pad + cell if to_right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def json_dumps(value: Any, *, indent: int | None = None) -> str:
    """Strict JSON (non-finite floats become strings, as in the store)."""
    return json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False)
