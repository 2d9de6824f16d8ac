"""``labledger runs diff``: two runs side by side, only what differs by default."""

from __future__ import annotations

from typing import Any

import click
from rich.console import RenderableType
from rich.text import Text

from labledger.cli import render
from labledger.cli.common import open_api, user_errors
from labledger.sdk.api import RunView
from labledger.sdk.diff import MISSING, SECTION_TITLES, Change, RunDiff, diff_runs

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


@click.command("diff")
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
