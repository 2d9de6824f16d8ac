"""``labledger runs ls|show|diff`` and ``labledger projects``: reading runs from the terminal.

Only the SDK read API (``Api``, ``RunView``, ``RunList``) is used; generic formatting (values,
durations, sparklines, table styles) lives in ``render.py``.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Group, JustifyMethod, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from labledger.cli import render
from labledger.config import load_settings
from labledger.encoding import flatten
from labledger.errors import LabledgerError
from labledger.sdk.api import Api, RunList, RunView
from labledger.sdk.diff import MISSING, SECTION_TITLES, Change, RunDiff, diff_runs

F = TypeVar("F", bound=Callable[..., Any])

SYSTEM_PREFIX = "system/"
ERROR_TAIL_LINES = 15
SPARK_WIDTH = 24
MAX_CELL = 40


def user_errors(fn: F) -> F:
    """Turn a ``LabledgerError`` into Click's one-line ``Error: ...`` and exit code 1, so the
    message is the same under ``main()`` and when the group is invoked directly (tests)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LabledgerError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def open_api() -> Api:
    """The read API for the configured store; a missing SQLite store is an error, not created."""
    settings = load_settings()
    if settings.uri.startswith("sqlite:///"):
        path = Path(settings.uri.removeprefix("sqlite:///"))
        if not path.exists():
            raise LabledgerError(
                f"no labledger store at {path}: run from your project folder "
                "or set LABLEDGER_DIR / LABLEDGER_URI"
            )
    return Api(settings=settings)


def split_keys(values: Iterable[str]) -> list[str]:
    """``--sort a,b --sort c`` → ``["a", "b", "c"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def query_runs(
    api: Api, project: str | None, filter_: str | None, sort: Sequence[str], limit: int | None
) -> RunList:
    return api.runs(project, filter=filter_, order_by=split_keys(sort), limit=limit or None)


def run_json(run: RunView) -> dict[str, Any]:
    """One run as a plain dict: the record, nested config and final metrics."""
    r = run.record
    return {
        "run_id": r.run_id,
        "project": r.project,
        "name": r.name,
        "status": str(r.status),
        "created_at": r.created_at,
        "ended_at": r.ended_at,
        "runtime": r.runtime,
        "group": r.group,
        "tags": r.tags,
        "notes": r.notes,
        "host": r.host,
        "exit_code": r.exit_code,
        "reproduces": r.reproduces,
        "config": r.config,
        "metrics": r.final_metrics(),
    }


@click.group("runs")
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
    """One column of ``runs ls``: a header, a raw value getter and a cell renderer."""

    name: str
    header: str
    value: Callable[[RunView], Any]
    cell: Callable[[Any], Text]
    justify: JustifyMethod = "left"


def _plain_cell(value: Any) -> Text:
    return Text(render.format_value(value, max_length=MAX_CELL))


ATTRIBUTE_COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column("id", "id", lambda r: r.id, lambda v: Text(v, style="bold")),
        Column("project", "project", lambda r: r.project, _plain_cell),
        Column("name", "name", lambda r: r.name, _plain_cell),
        Column("status", "status", lambda r: str(r.status), render.status_text),
        Column(
            "created",
            "created",
            lambda r: r.record.created_at,
            lambda v: Text(render.format_relative(v)),
        ),
        Column(
            "ended", "ended", lambda r: r.record.ended_at, lambda v: Text(render.format_relative(v))
        ),
        Column(
            "runtime",
            "runtime",
            lambda r: r.record.runtime,
            lambda v: Text(render.format_duration(v)),
            "right",
        ),
        Column("group", "group", lambda r: r.record.group, _plain_cell),
        Column("tags", "tags", lambda r: ",".join(r.record.tags) or None, _plain_cell),
        Column("host", "host", lambda r: r.record.host, _plain_cell),
        Column("exit_code", "exit", lambda r: r.record.exit_code, _plain_cell, "right"),
        Column("notes", "notes", lambda r: r.record.notes, _plain_cell),
    )
}
DEFAULT_COLUMNS = ("id", "project", "name", "status", "created", "runtime")
_FIELD_MENTION = re.compile(r"(?:^|[\s(,+-])(metrics|config|params?)\.((?:`[^`]+`|[\w/\-:@.])+)")


def _value_column(namespace: str, key: str, header: str) -> Column:
    def get(run: RunView) -> Any:
        source = run.metrics if namespace == "metrics" else run.params
        return source.get(key)

    return Column(f"{namespace}.{key}", header, get, _plain_cell, "right")


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
    params = [r.params for r in runs]
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
    cells = [column.cell(column.value(r)).cell_len for r in runs]
    return max([len(column.header), *cells]) + 3  # padding either side and a separator


def auto_columns(
    runs: RunList, mentioned: list[tuple[str, str]], width: int
) -> tuple[list[Column], list[str]]:
    """The default columns: identity, then config keys that vary and final metrics, as many
    as fit in ``width`` (keys named in --filter/--sort first). Returns (columns, hidden names)."""
    base = [ATTRIBUTE_COLUMNS[name] for name in DEFAULT_COLUMNS]
    metric_keys = sorted({k for r in runs for k in r.metrics if not k.startswith(SYSTEM_PREFIX)})
    config_keys = _varying_config_keys(runs)
    clash = set(metric_keys) & set(config_keys)

    def column(ns: str, key: str) -> Column:
        return _value_column(ns, key, f"{ns}.{key}" if key in clash else key)

    candidates = [column(ns, key) for ns, key in mentioned]
    # alternate config and metric columns so both kinds show when space is short
    pairs = zip(config_keys, metric_keys, strict=False)
    for config_key, metric_key in pairs:
        candidates += [column("config", config_key), column("metrics", metric_key)]
    candidates += [column("config", k) for k in config_keys[len(metric_keys) :]]
    candidates += [column("metrics", k) for k in metric_keys[len(config_keys) :]]
    candidates = list({c.name: c for c in reversed(candidates)}.values())[::-1]

    used = sum(_width(c, runs) for c in base)
    chosen: list[Column] = []
    hidden: list[str] = []
    for candidate in candidates:
        size = _width(candidate, runs)
        if used + size <= width:
            chosen.append(candidate)
            used += size
        else:
            hidden.append(candidate.name)
    # shown: keys named in --filter/--sort, then config, then metrics
    order = {c.name: i for i, c in enumerate(candidates)}
    named = {f"{ns}.{key}" for ns, key in mentioned}
    chosen.sort(key=lambda c: (c.name not in named, c.name.startswith("metrics."), order[c.name]))
    return base + chosen, hidden


def runs_table(runs: RunList, columns: Sequence[Column], title: str | None = None) -> Table:
    table = render.data_table(title)
    for column in columns:
        style = (
            "cyan"
            if column.name.startswith("config.")
            else ("magenta" if column.name.startswith("metrics.") else None)
        )
        table.add_column(column.header, justify=column.justify, header_style=style)
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run and line.")
@user_errors
def ls_command(
    project: str | None,
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int,
    columns: tuple[str, ...],
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
    runs = query_runs(api, project, filter_, sort, limit)
    if as_json:
        for run in runs:
            click.echo(render.json_dumps(run_json(run)))
        return
    console = render.make_console()
    if not runs:
        render.make_console(stderr=True).print("No runs match.", style="dim")
        return
    hidden: list[str] = []
    if not chosen:
        mentioned = _mentioned([filter_ or "", *split_keys(sort)])
        chosen, hidden = auto_columns(runs, mentioned, console.width)
    console.print(runs_table(runs, chosen))
    notes = []
    if limit and len(runs) == limit:
        total = api.store.count_runs(project, filter_)
        if total > limit:
            notes.append(f"showing {limit} of {total} runs (--limit)")
    if hidden:
        shown = ", ".join(hidden[:4]) + (", …" if len(hidden) > 4 else "")
        notes.append(f"{len(hidden)} more columns ({shown}): choose with --columns")
    for note in notes:
        console.print(note, style="dim")


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
                "runs": api.store.count_runs(project),
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
        table.add_row(Text(row["project"]), str(row["runs"]), Text(f"{row['latest_run']} ({when})"))
    console.print(table)


# --- show -----------------------------------------------------------------------------------


def _artifacts(api: Api, run_id: str) -> dict[str, list[dict[str, Any]]] | None:
    """Artifacts produced and consumed, or None while the registry cannot answer."""
    registry = api.store.artifacts
    try:
        produced, used = registry.produced_by(run_id), registry.used_by(run_id)
    except (NotImplementedError, LabledgerError):
        return None

    def describe(v: Any) -> dict[str, Any]:
        return {
            "ref": v.ref,
            "type": v.type,
            "digest": v.digest,
            "size": v.size,
            "aliases": list(v.aliases),
            "reference": v.reference,
            "uri": v.uri,
        }

    return {"produced": [describe(v) for v in produced], "consumed": [describe(v) for v in used]}


def show_json(api: Api, run: RunView) -> dict[str, Any]:
    data = run_json(run)
    data["summary"] = run.summary
    data["metric_stats"] = {
        k: {
            "last": m.last,
            "min": m.min,
            "max": m.max,
            "count": m.count,
            "last_step": m.last_step,
            "last_time": m.last_time,
        }
        for k, m in sorted(run.record.metrics.items())
    }
    data["error"] = run.record.error
    data["fingerprint"] = run.record.fingerprint
    data["captures"] = run.captures()
    data["artifacts"] = _artifacts(api, run.id)
    return data


def _identity(run: RunView, recorded_by: Mapping[str, Any]) -> RenderableType:
    r = run.record
    title = Text.assemble(
        ("run ", "bold"),
        (r.run_id, "bold"),
        "  ",
        (f"{r.project} / {r.name}", ""),
        "  ",
        render.status_text(r.status),
    )
    rows: list[tuple[str, Any]] = [
        (
            "created",
            f"{render.format_timestamp(r.created_at)} ({render.format_relative(r.created_at)})",
        ),
        ("ended", render.format_timestamp(r.ended_at)),
        ("runtime", r.runtime),
        ("exit code", r.exit_code),
        ("host", f"{r.host or render.MISSING_TEXT} (pid {r.pid})" if r.pid else r.host),
    ]
    rows += [
        (k, v)
        for k, v in (
            ("group", r.group),
            ("tags", ", ".join(r.tags) or None),
            ("notes", r.notes),
            ("reproduces", r.reproduces),
            ("fingerprint", r.fingerprint),
            ("user", recorded_by.get("user")),
            ("config from", recorded_by.get("config_source")),
        )
        if v
    ]
    return Group(title, render.key_value_table(rows))


def _error_tail(error: str) -> RenderableType:
    lines = error.rstrip().splitlines()
    tail = lines[-ERROR_TAIL_LINES:]
    if len(lines) > len(tail):
        tail = [f"… {len(lines) - len(tail)} earlier lines (see --json)", *tail]
    return Panel(
        Text("\n".join(tail)), title="error", title_align="left", border_style="red", expand=False
    )


def _metrics_table(run: RunView, keys: list[str], title: str) -> Table:
    table = render.data_table(title)
    for header in ("key", "final", "min", "max", "count", "last step"):
        table.add_column(header, justify="left" if header == "key" else "right")
    table.add_column("history")
    finals = run.metrics
    for key in keys:
        stats = run.record.metrics.get(key)
        final = finals.get(key)
        history = ""
        if stats is not None and stats.count > 0:
            values = run.series(key).values
            history = render.sparkline(values, SPARK_WIDTH) if stats.count > 1 else ""
            if final is None and len(values):
                final = float(values[-1])  # the store keeps a non-finite last value as null
        table.add_row(
            Text(key),
            render.format_value(final, digits=6),
            render.format_value(stats.min if stats else None, digits=6),
            render.format_value(stats.max if stats else None, digits=6),
            str(stats.count) if stats else render.MISSING_TEXT,
            render.format_value(stats.last_step if stats else None),
            Text(history, style="magenta"),
        )
    return table


def _git_rows(git: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if not git.get("present", True):
        return [("present", False), *[(k, v) for k, v in git.items() if k != "present"]]
    diff = git.get("diff") or ""
    untracked = git.get("untracked") or {}
    rows: list[tuple[str, Any]] = [
        ("commit", git.get("commit")),
        ("branch", git.get("branch")),
        ("remote", git.get("remote_url") or git.get("remote")),
        ("dirty", git.get("dirty")),
    ]
    if diff:
        rows.append(("diff", f"{diff.count(chr(10))} lines, {render.format_bytes(len(diff))}"))
    if untracked:
        rows.append(("untracked", f"{len(untracked)} files"))
    extra = ("diff_skipped", "untracked_skipped", "untracked_skipped_unlisted", "error")
    rows += [(k, git[k]) for k in extra if git.get(k)]
    return rows


def _environment_rows(env: Mapping[str, Any]) -> list[tuple[str, Any]]:
    python = " ".join(str(env[k]) for k in ("implementation", "python_version") if env.get(k))
    rows: list[tuple[str, Any]] = [
        ("python", python or None),
        ("executable", env.get("executable")),
    ]
    if "in_venv" in env:
        rows.append(("virtualenv", env["in_venv"]))
    packages = env.get("packages")
    if isinstance(packages, Mapping):
        rows.append(("packages", f"{len(packages)} installed (runs diff compares them)"))
    for name, info in (env.get("editable") or {}).items():
        if isinstance(info, Mapping):
            commit = str(info.get("commit") or "?")[:12]
            rows.append((f"editable {name}", f"{info.get('path')} @ {commit}"))
    if env.get("error"):
        rows.append(("error", env["error"]))
    return rows


def _host_rows(host: Mapping[str, Any]) -> list[tuple[str, Any]]:
    os_text = " ".join(str(host[k]) for k in ("os", "os_release") if host.get(k))
    cpus = host.get("cpu_count_logical")
    cpu = f"{host.get('cpu_model') or '?'} × {cpus}" if cpus else host.get("cpu_model")
    rows: list[tuple[str, Any]] = [
        ("hostname", host.get("hostname")),
        ("os", os_text or None),
        ("machine", host.get("machine")),
        ("cpu", cpu),
        ("memory", render.format_bytes(host.get("memory_total_bytes"))),
    ]
    known = {
        "hostname",
        "os",
        "os_release",
        "machine",
        "cpu_model",
        "cpu_count_logical",
        "memory_total_bytes",
        "platform",
    }
    return rows + [(k, v) for k, v in flatten(host).items() if k not in known]


def _command_rows(command: Mapping[str, Any]) -> list[tuple[str, Any]]:
    argv = command.get("orig_argv") or command.get("argv")
    rows: list[tuple[str, Any]] = []
    if isinstance(argv, list):
        rows.append(("command", shlex.join(str(a) for a in argv)))
    rows += [(k, command.get(k)) for k in ("cwd", "entry_script") if command.get(k)]
    rows += [(f"${k}", v) for k, v in (command.get("env") or {}).items()]
    if command.get("error"):
        rows.append(("error", command["error"]))
    return rows


def _gpu_rows(gpu: Mapping[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in gpu.items():
        if key == "devices" and isinstance(value, list):
            for device in value:
                if isinstance(device, Mapping):
                    memory = render.format_bytes(device.get("memory_total_bytes"))
                    rows.append((f"gpu {device.get('index')}", f"{device.get('name')} ({memory})"))
        else:
            rows.extend(flatten({key: value}).items())
    return rows


def _flat_rows(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return list(flatten(data).items())


CAPTURE_LAYOUT: dict[str, Callable[[Mapping[str, Any]], list[tuple[str, Any]]]] = {
    "git": _git_rows,
    "environment": _environment_rows,
    "host": _host_rows,
    "gpu": _gpu_rows,
    "command": _command_rows,
}


def _captures(captures: Mapping[str, Mapping[str, Any]]) -> list[RenderableType]:
    order = [s for s in SECTION_TITLES if s in captures] + sorted(
        s for s in captures if s not in SECTION_TITLES
    )
    parts: list[RenderableType] = []
    for section in order:
        data = captures[section]
        # a probe that failed recorded only its error: no layout applies
        layout = _flat_rows if set(data) == {"error"} else CAPTURE_LAYOUT.get(section, _flat_rows)
        title = SECTION_TITLES.get(section, section.capitalize())
        parts.append(render.key_value_table(layout(data), title=title))
    return parts


def _artifact_table(artifacts: Mapping[str, list[dict[str, Any]]]) -> Table:
    table = render.data_table("Artifacts")
    for header in ("direction", "artifact", "type", "size", "aliases"):
        table.add_column(header, justify="right" if header == "size" else "left")
    for direction, versions in (
        ("produced", artifacts["produced"]),
        ("consumed", artifacts["consumed"]),
    ):
        for v in versions:
            size = render.format_bytes(v["size"]) if not v["reference"] else "reference"
            table.add_row(direction, Text(v["ref"]), Text(v["type"]), size, ", ".join(v["aliases"]))
    return table


@runs_group.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON document.")
@user_errors
def show_command(run_ref: str, as_json: bool) -> None:
    """Show everything recorded about one run.

    RUN is a run ID, a unique prefix of one, or a unique run name.

    \b
    Examples:
      labledger runs show 3f9a2b1c
      labledger runs show 3f9a
      labledger runs show baseline --json | jq .captures.git.commit
    """
    api = open_api()
    run = api.run(run_ref)
    if as_json:
        click.echo(render.json_dumps(show_json(api, run), indent=2))
        return
    console = render.make_console()
    captures = run.captures()
    parts: list[RenderableType] = [_identity(run, captures.pop("run", {}))]
    if run.record.error:
        parts.append(_error_tail(run.record.error))
    params = run.params
    if params:
        parts.append(render.key_value_table(params.items(), title=f"Config ({len(params)})"))
    keys = sorted({*run.record.metrics, *run.metrics})
    user_keys = [k for k in keys if not k.startswith(SYSTEM_PREFIX)]
    system_keys = [k for k in keys if k.startswith(SYSTEM_PREFIX)]
    if user_keys:
        parts.append(_metrics_table(run, user_keys, "Metrics"))
    if system_keys:
        parts.append(_metrics_table(run, system_keys, "System metrics"))
    parts += _captures(captures)
    artifacts = _artifacts(api, run.id)
    if artifacts and (artifacts["produced"] or artifacts["consumed"]):
        parts.append(_artifact_table(artifacts))
    for part in parts:
        console.print(part)
        console.print()


# --- diff -----------------------------------------------------------------------------------

CHANGE_STYLES = {
    Change.CHANGED: ("yellow", "yellow"),
    Change.ADDED: ("dim", "green"),
    Change.REMOVED: ("red", "dim"),
    Change.SAME: ("dim", "dim"),
}


def _diff_cell(key: str, value: Any, style: str) -> Text:
    text = render.MISSING_TEXT if value is MISSING else render.format_field(key, value)
    if value is None:
        text = "null"
    return Text(text, style=style)


MARKERS = {Change.ADDED: "+ ", Change.REMOVED: "- ", Change.CHANGED: "~ ", Change.SAME: "  "}
NUMERIC_SECTIONS = frozenset({"metrics", "system"})


def diff_tables(
    diff: RunDiff, a: RunView, b: RunView, show_all: bool = False
) -> list[RenderableType]:
    """One table per section; sections one run did not record at all are named in one line
    (unless ``show_all``) instead of listing every value as added or removed."""
    parts: list[RenderableType] = []
    absent: dict[str, list[str]] = {"a": [], "b": []}
    for section in diff.sections:
        if not section.entries:
            continue
        if section.absent_in and not show_all:
            absent[section.absent_in].append(section.title.lower())
            continue
        table = render.data_table(f"{section.title} ({len(section.differences)} differ)")
        table.add_column("key", overflow="fold")
        table.add_column(f"A {a.id}", overflow="fold")
        table.add_column(f"B {b.id}", overflow="fold")
        numeric = section.name in NUMERIC_SECTIONS
        if numeric:
            table.add_column("B − A", justify="right")
        for entry in section.entries:
            a_style, b_style = CHANGE_STYLES[entry.change]
            row = [
                Text(MARKERS[entry.change] + entry.key),
                _diff_cell(entry.key, entry.a, a_style),
                _diff_cell(entry.key, entry.b, b_style),
            ]
            if numeric:
                delta = entry.delta
                row.append(Text("" if not delta else f"{delta:+.4g}"))
            table.add_row(*row)
        parts.append(table)
    for side, run in (("a", a), ("b", b)):
        if absent[side]:
            names = ", ".join(absent[side])
            parts.append(
                Text(
                    f"Not recorded for {side.upper()} {run.id}: {names} (--all lists the "
                    "other run's values).",
                    style="dim",
                )
            )
    return parts


@runs_group.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--all", "show_all", is_flag=True, help="Show equal values too.")
@click.option(
    "-s",
    "--section",
    "sections",
    multiple=True,
    type=click.Choice(list(SECTION_TITLES)),
    help="Only these sections (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="The comparison as one JSON document.")
@user_errors
def diff_command(
    run_a: str, run_b: str, show_all: bool, sections: tuple[str, ...], as_json: bool
) -> None:
    """Compare two runs side by side: what differs in config, final metrics, installed
    packages, git state, Python, host, GPU, seeds and command line.

    Lines are marked ~ changed, + only in B, - only in A. Only differences are shown unless
    --all is given.

    \b
    Examples:
      labledger runs diff 3f9a 7c21
      labledger runs diff baseline tuned --section config --section packages
      labledger runs diff 3f9a 7c21 --all --json
    """
    api = open_api()
    a, b = api.run(run_a), api.run(run_b)
    diff = diff_runs(a, b)
    if sections:
        chosen = tuple(s for s in diff.sections if s.name in sections)
        diff = RunDiff(diff.a_id, diff.b_id, chosen)
    shown = diff if show_all else diff.only_differences()
    if as_json:
        click.echo(render.json_dumps(shown.to_dict(), indent=2))
        return
    console = render.make_console()
    header = render.key_value_table(
        [
            ("A", Text.assemble(f"{a.id}  {a.project} / {a.name}  ", render.status_text(a.status))),
            ("B", Text.assemble(f"{b.id}  {b.project} / {b.name}  ", render.status_text(b.status))),
        ]
    )
    console.print(header)
    console.print()
    tables = diff_tables(shown, a, b, show_all)
    if not any(s.entries for s in shown.sections if s.name != "run"):
        compared = ", ".join(s.title.lower() for s in diff.sections if s.name != "run")
        console.print(f"No differences in {compared or 'any recorded section'}.", style="green")
        console.print()
    for table in tables:
        console.print(table)
        console.print()
