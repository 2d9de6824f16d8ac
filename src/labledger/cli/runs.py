"""``labledger runs ls|show|diff`` and ``labledger projects``: reading runs from the terminal.

Only the SDK read API (``Api``, ``RunView``, ``RunList``) is used; generic formatting (values,
durations, sparklines, table styles) lives in ``render.py``.
"""

from __future__ import annotations

import os
import re
import sys
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from labledger.cli import render
from labledger.cli.common import (
    MAX_CELL,
    SYSTEM_PREFIX,
    open_api,
    query_runs,
    run_json,
    split_keys,
    user_errors,
    warn_unknown_keys,
)
from labledger.cli.lazy import LazyGroup
from labledger.sdk.api import RunList, RunView
from labledger.store.filtering import parse_filter

if TYPE_CHECKING:  # Rich is loaded by the first table drawn (not for --json)
    from rich.console import JustifyMethod
    from rich.table import Table
    from rich.text import Text


@click.group(
    "runs",
    cls=LazyGroup,
    lazy={
        "diff": "labledger.cli.diff_view:diff_command",
        "rm": "labledger.cli.remove:runs_rm",
        "show": "labledger.cli.show:show_command",
    },
)
def runs_group() -> None:
    """List, inspect and compare recorded runs.

    \b
    Examples:
      labledger runs ls --project digits --sort -metrics.acc
      labledger runs show 3f9a
      labledger runs diff 3f9a 7c21
    """


# --- ls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of ``runs ls``: a header, a raw value getter, the cell's text and style."""

    name: str
    header: str
    value: Callable[[RunView], Any]
    show: Callable[[Any], str]
    justify: JustifyMethod = "left"
    style: str = ""
    styled: Callable[[str], Text] | None = None  # a cell styled in parts

    def cell(self, value: Any) -> Text:
        shown = self.show(value)
        return self.styled(shown) if self.styled else render.text(shown, self.style)


def _plain(value: Any) -> str:
    return render.format_value(value, max_length=MAX_CELL)


# Marks after the status: a reproduction, a run that broke the project's policy, a run whose
# record is incomplete (its code state could not be captured).
MARKS = (("reproduction", "↻"), ("policy-violation", "⚠"), ("capture-incomplete", "!"))


def _status_marks(run: RunView) -> str:
    marks = ""
    if run.record.reproduces:
        marks += "↻"
    tags = set(run.record.tags)
    marks += "".join(mark for tag, mark in MARKS[1:] if tag in tags)
    return f"{run.status} {marks}" if marks else str(run.status)


def _status_cell(shown: str) -> Text:
    status, _, marks = shown.partition(" ")
    text = render.status_text(status)
    if marks:
        text.append(" " + marks, style="yellow")
    return text


ATTRIBUTE_COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column("id", "id", lambda r: r.id, str, style="bold"),
        Column("project", "project", lambda r: r.project, _plain),
        Column("name", "name", lambda r: r.name, _plain),
        Column("status", "status", lambda r: _status_marks(r), str, styled=_status_cell),
        Column("created", "created", lambda r: r.record.created_at, render.format_relative),
        Column("ended", "ended", lambda r: r.record.ended_at, render.format_relative),
        Column("runtime", "runtime", lambda r: r.record.runtime, render.format_duration, "right"),
        Column("group", "group", lambda r: r.record.group, _plain),
        Column("tags", "tags", lambda r: ",".join(r.record.tags) or None, _plain),
        Column("host", "host", lambda r: r.record.host, _plain),
        Column("exit_code", "exit", lambda r: r.record.exit_code, _plain, "right"),
        Column("notes", "notes", lambda r: r.record.notes, _plain),
    )
}
DEFAULT_COLUMNS = ("id", "project", "name", "status", "created", "runtime")
_FIELD_MENTION = re.compile(r"(?:^|[\s(,+-])(metrics|config|params?)\.((?:`[^`]+`|[\w/\-:@.])+)")


# Each listed run's final metrics and flattened config, computed once: every value column
# (and the choice of columns) reads one key of them for every run.
_VALUES: weakref.WeakKeyDictionary[RunView, tuple[dict[str, Any], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _values(run: RunView, namespace: str) -> dict[str, Any]:
    """``run.metrics`` (``namespace`` "metrics") or ``run.params`` (else), read-only."""
    cached = _VALUES.get(run)
    if cached is None:
        cached = _VALUES[run] = (run.metrics, run.params)
    return cached[0] if namespace == "metrics" else cached[1]


def _value_column(namespace: str, key: str, header: str) -> Column:
    def get(run: RunView) -> Any:
        return _values(run, namespace).get(key)

    return Column(f"{namespace}.{key}", header, get, _plain, "right")


def parse_column(spec: str) -> Column:
    if spec in ATTRIBUTE_COLUMNS:
        return ATTRIBUTE_COLUMNS[spec]
    namespace, _, key = spec.partition(".")
    if namespace in ("config", "params", "param") and key:
        return _value_column("config", key, key)
    if namespace == "metrics" and key:
        return _value_column("metrics", key, key)
    known = ", ".join(ATTRIBUTE_COLUMNS)
    raise click.BadParameter(
        f"unknown column {spec!r}: use config.KEY, metrics.KEY or one of {known}"
    )


def _varying_config_keys(runs: RunList) -> list[str]:
    """Config keys whose value is not the same in every listed run (all keys for one run)."""
    params = [_values(r, "config") for r in runs]
    keys = sorted({k for p in params for k in p})
    if len(runs) <= 1:
        return keys
    return [
        k
        for k in keys
        if len({render.json_dumps(p.get(k)) for p in params}) > 1 or any(k not in p for p in params)
    ]


def _mentioned(texts: Iterable[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for text in texts:
        for namespace, key in _FIELD_MENTION.findall(text):
            ns = "metrics" if namespace == "metrics" else "config"
            found.append((ns, key.replace("`", "")))
    return list(dict.fromkeys(found))


def _width(column: Column, runs: RunList) -> int:
    cells = [render.cell_width(column.show(column.value(r))) for r in runs]
    return max([len(column.header), *cells]) + 3  # padding either side and a separator


def _varies(runs: RunList, value: Callable[[RunView], Any]) -> bool:
    return len({render.json_dumps(value(r)) for r in runs}) > 1


def auto_columns(
    runs: RunList, mentioned: list[tuple[str, str]], width: int
) -> tuple[list[Column], list[str]]:
    """The default columns, as many as fit in ``width``: id and status always; then keys named
    in --filter/--sort; the name; config keys that vary and final metrics, alternating; then
    runtime, created and (when it varies) project. Constant and identity columns go before
    metrics do. Returns (columns, hidden names)."""
    metric_keys = sorted(
        {k for r in runs for k in _values(r, "metrics") if not k.startswith(SYSTEM_PREFIX)}
    )
    config_keys = _varying_config_keys(runs)
    clash = set(metric_keys) & set(config_keys)

    def column(ns: str, key: str) -> Column:
        return _value_column(ns, key, f"{ns}.{key}" if key in clash else key)

    values = [column(ns, key) for ns, key in mentioned]
    pairs = zip(config_keys, metric_keys, strict=False)
    for config_key, metric_key in pairs:
        values += [column("config", config_key), column("metrics", metric_key)]
    values += [column("config", k) for k in config_keys[len(metric_keys) :]]
    values += [column("metrics", k) for k in metric_keys[len(config_keys) :]]
    values = list({c.name: c for c in reversed(values)}.values())[::-1]
    named = {f"{ns}.{key}" for ns, key in mentioned}

    attrs = ATTRIBUTE_COLUMNS
    candidates = [c for c in values if c.name in named]
    if any(r.name != r.id for r in runs):
        candidates.append(attrs["name"])
    candidates += [c for c in values if c.name not in named]
    candidates += [attrs["runtime"], attrs["created"]]
    if _varies(runs, lambda r: r.project):
        candidates.append(attrs["project"])

    base = [attrs["id"], attrs["status"]]
    used = sum(_width(c, runs) for c in base)
    chosen: list[Column] = []
    hidden: list[str] = []
    for candidate in candidates:
        size = _width(candidate, runs)
        if used + size <= width:
            chosen.append(candidate)
            used += size
        elif candidate.name not in attrs:
            hidden.append(candidate.name)
    # shown: id, name, project, status, created, runtime, then named keys, config, metrics
    order = {c.name: i for i, c in enumerate(values)}
    layout = ["id", "name", "project", "status", "created", "runtime"]
    shown_attrs = [attrs[n] for n in layout if n in {c.name for c in [*base, *chosen]}]
    shown_values = [c for c in chosen if c.name not in attrs]
    shown_values.sort(
        key=lambda c: (c.name not in named, c.name.startswith("metrics."), order[c.name])
    )
    return shown_attrs + shown_values, hidden


def runs_table(
    runs: RunList, columns: Sequence[Column], title: str | None = None, *, wrap: bool = True
) -> Table:
    """``wrap=False`` for columns known to fit (``auto_columns``): the same table, drawn
    without Rich measuring how to wrap every cell (about half of its rendering time)."""
    table = render.data_table(title)
    for column in columns:
        style = (
            "cyan"
            if column.name.startswith("config.")
            else ("magenta" if column.name.startswith("metrics.") else None)
        )
        table.add_column(
            column.header, justify=column.justify, header_style=style, no_wrap=not wrap
        )
    for run in runs:
        table.add_row(*(column.cell(column.value(run)) for column in columns))
    return table


@runs_group.command("ls")
@click.option("-p", "--project", help="Only runs of this project.")
@click.option("-f", "--filter", "filter_", metavar="EXPR", help="Filter expression (see above).")
@click.option(
    "-s",
    "--sort",
    multiple=True,
    metavar="KEY",
    help="Sort key, '-' for descending; repeat or comma-separate. Default: newest first.",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="At most this many runs; 0 for all.",
)
@click.option(
    "-c",
    "--columns",
    multiple=True,
    metavar="COLS",
    help="Comma-separated columns: id, project, name, status, created, ended, runtime, group, "
    "tags, host, exit_code, notes, config.KEY, metrics.KEY.",
)
@click.option(
    "--include-reproductions",
    is_flag=True,
    help="Also list runs made by `labledger reproduce` (hidden by default, marked ↻).",
)
@click.option(
    "--strict", is_flag=True, help="An unknown metric or config key is an error, not a warning."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run and line.")
@user_errors
def ls_command(
    project: str | None,
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int,
    columns: tuple[str, ...],
    include_reproductions: bool,
    strict: bool,
    as_json: bool,
) -> None:
    """List runs, newest first, as a table.

    By default the table shows config keys that differ between the listed runs and every
    final metric, as many as fit. Filters use the same language as ll.runs(): fields are
    status, name, project, group, tags, run_id, created_at, ended_at, host, metrics.KEY and
    config.KEY; operators = != < <= > >= in contains, is [not] null; and/or/not.

    \b
    Examples:
      labledger runs ls
      labledger runs ls -p digits -f "metrics.acc > 0.9 and config.optimizer = 'adam'"
      labledger runs ls --sort -metrics.acc --limit 10
      labledger runs ls -f "status = 'failed'" -c id,name,config.lr,metrics.loss
      labledger runs ls --json | jq -r .run_id
    """
    chosen = [parse_column(spec) for spec in split_keys(columns)]
    api = open_api()
    parse_filter(filter_)  # a bad filter is reported as the user wrote it, before anything else
    warn_unknown_keys(api, project, [filter_ or "", *split_keys(sort)], strict)
    if not include_reproductions and "reproduces" not in (filter_ or ""):
        filter_ = f"reproduces is null and ({filter_})" if filter_ else "reproduces is null"
    runs = query_runs(api, project, filter_, sort, limit)
    if as_json:
        for run in runs:
            click.echo(render.json_dumps(run_json(run)))
        return
    if not runs:
        render.make_console(stderr=True).print("No runs match.", style="dim")
        return
    # Piped, the table is plain aligned text (as in `gh`, `kubectl`): greppable, and drawn
    # without Rich (importing and laying out its table cost 0.3-0.5 s of a short command).
    piped = not sys.stdout.isatty()
    console = None if piped else render.make_console()
    width = max(_piped_width(), render.PIPED_WIDTH) if console is None else console.width
    hidden: list[str] = []
    fitted = not chosen
    if fitted:
        mentioned = _mentioned([filter_ or "", *split_keys(sort)])
        chosen, hidden = auto_columns(runs, mentioned, width)
    if console is None:
        rows = ([c.show(c.value(run)) for c in chosen] for run in runs)
        right = [c.justify == "right" for c in chosen]
        for line in render.plain_table([c.header for c in chosen], rows, right):
            click.echo(line)
    else:
        console.print(runs_table(runs, chosen, wrap=not fitted))
    notes = []
    if limit and len(runs) == limit:
        total = api.count_runs(project, filter_)
        if total > limit:
            notes.append(f"showing {limit} of {total} runs (--limit)")
    if hidden:
        shown = ", ".join(hidden[:4]) + (", …" if len(hidden) > 4 else "")
        notes.append(f"{len(hidden)} more columns ({shown}): choose with --columns")
    for note in notes:
        if console is None:
            click.echo(note, err=True)
        else:
            console.print(note, style="dim")


def _piped_width() -> int:
    """``COLUMNS`` when set (as Rich reads it), else 0."""
    try:
        return int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return 0


@click.command("projects")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per project and line.")
@user_errors
def projects_command(as_json: bool) -> None:
    """List projects with their number of runs and latest run.

    \b
    Examples:
      labledger projects
      labledger projects --json
    """
    api = open_api()
    rows: list[dict[str, Any]] = []
    for project in api.projects():
        latest = api.runs(project, limit=1)
        rows.append(
            {
                "project": project,
                "runs": api.count_runs(project),
                "latest_run": latest[0].id if latest else None,
                "latest_created_at": latest[0].record.created_at if latest else None,
            }
        )
    if as_json:
        for row in rows:
            click.echo(render.json_dumps(row))
        return
    console = render.make_console()
    if not rows:
        render.make_console(stderr=True).print("No projects yet.", style="dim")
        return
    table = render.data_table()
    table.add_column("project")
    table.add_column("runs", justify="right")
    table.add_column("latest run")
    for row in rows:
        when = render.format_relative(row["latest_created_at"])
        last_run = render.text(f"{row['latest_run']} ({when})")
        table.add_row(render.text(row["project"]), str(row["runs"]), last_run)
    console.print(table)
