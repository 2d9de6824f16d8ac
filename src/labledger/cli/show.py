"""``labledger runs show``: everything recorded about one run."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from labledger.cli import render
from labledger.cli.common import SYSTEM_PREFIX, open_api, run_json, user_errors
from labledger.encoding import flatten
from labledger.sdk.api import Api, RunView
from labledger.sdk.diff import SECTION_TITLES

ERROR_TAIL_LINES = 15
SPARK_WIDTH = 24


# --- show -----------------------------------------------------------------------------------


def _artifacts(api: Api, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Artifacts produced and consumed."""
    registry = api.store.artifacts
    produced, used = registry.produced_by(run_id), registry.used_by(run_id)

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


@click.command("show")
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON document.")
@click.option("--diff", "show_diff", is_flag=True, help="The uncommitted diff and untracked files.")
@click.option(
    "--packages",
    "packages",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[GLOB]",
    help="Installed packages with versions and install kinds (optionally matching GLOB).",
)
@click.option("--output", "show_output", is_flag=True, help="The recorded console output.")
@click.option("--tail", type=click.IntRange(min=1), help="With --output: only the last N lines.")
@user_errors
def show_command(
    run_ref: str,
    as_json: bool,
    show_diff: bool,
    packages: str | None,
    show_output: bool,
    tail: int | None,
) -> None:
    """Show everything recorded about one run.

    RUN is a run ID, a unique prefix of one, or a unique run name. --diff, --packages and
    --output show one part of the record in full.

    \b
    Examples:
      labledger runs show 3f9a2b1c
      labledger runs show 3f9a --diff
      labledger runs show 3f9a --packages 'torch*'
      labledger runs show 3f9a --output --tail 20
      labledger runs show baseline --json | jq .captures.git.commit
    """
    api = open_api()
    run = api.run(run_ref)
    if show_diff or packages is not None or show_output:
        _show_part(run, show_diff, packages, show_output, tail)
        return
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
    if artifacts["produced"] or artifacts["consumed"]:
        parts.append(_artifact_table(artifacts))
    for part in parts:
        console.print(part)
        console.print()


def _show_part(
    run: RunView, show_diff: bool, packages: str | None, show_output: bool, tail: int | None
) -> None:
    captures = run.captures()
    if show_diff:
        git = captures.get("git", {})
        diff = git.get("diff")
        if diff is None:
            click.echo(
                f"no diff recorded ({git.get('diff_skipped') or git.get('error') or 'none'})"
            )
        elif not diff:
            click.echo(f"clean tree at {str(git.get('commit') or '?')[:12]}")
        else:
            for line in str(diff).splitlines():
                color = (
                    "green" if line.startswith("+") and not line.startswith("+++")
                    else "red" if line.startswith("-") and not line.startswith("---")
                    else "cyan" if line.startswith("@@") else None
                )  # fmt: skip
                click.secho(line, fg=color)
        for path, text in sorted((git.get("untracked") or {}).items()):
            click.secho(f"untracked file {path} ({len(text.encode())} bytes)", bold=True)
        for path, reason in sorted((git.get("untracked_skipped") or {}).items()):
            click.secho(f"untracked file {path} not recorded: {reason}", fg="yellow")
    if packages is not None:
        from fnmatch import fnmatchcase

        environment = captures.get("environment", {})
        installs = environment.get("installs") or {}
        shown = 0
        for name, version in sorted((environment.get("packages") or {}).items()):
            if not fnmatchcase(name, packages.lower()):
                continue
            info = installs.get(name) or {}
            where = info.get("path") or info.get("url") or ""
            kind = f"  ({info['kind']}{' ' + where if where else ''})" if info else ""
            click.echo(f"{name:<32} {version}{kind}")
            shown += 1
        if not shown:
            click.echo(f"no recorded package matches {packages!r}", err=True)
    if show_output:
        text = run.output()
        lines = text.splitlines()
        if tail:
            lines = lines[-tail:]
        click.echo("\n".join(lines) if lines else "(no console output recorded)")
