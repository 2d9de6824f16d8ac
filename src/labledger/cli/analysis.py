"""``labledger compare`` (is the difference real?) and ``labledger importance``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich import box
from rich.table import Table
from rich.text import Text

from labledger.analysis import ImportanceResult, Significance
from labledger.cli import render
from labledger.cli.common import open_api, user_errors

F = TypeVar("F", bound=Callable[..., Any])
VERDICT_STYLES = {"real": "bold green", "noise": "bold yellow", "insufficient": "bold red"}


def _interval(ci: Sequence[float] | None) -> str:
    if not ci:
        return render.MISSING_TEXT
    return f"[{render.format_number(ci[0], 3)}, {render.format_number(ci[1], 3)}]"


def _number(value: float | None, digits: int = 4) -> str:
    return render.MISSING_TEXT if value is None else render.format_number(value, digits)


def significance_table(result: Significance) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"{result.metric} by {result.by or 'configuration'}")
    for header in ("group", "n", "mean", "95% CI", "min", "max"):
        table.add_column(header, justify="left" if header == "group" else "right")
    for group in result.groups:
        marker = " ★" if group.name == result.best and len(result.groups) > 1 else ""
        table.add_row(
            Text(group.name + marker),
            str(group.n),
            _number(group.mean),
            _interval(group.ci),
            _number(min(group.values)),
            _number(max(group.values)),
        )
    return table


def verdict_text(result: Significance) -> Text:
    text = Text(f"{result.verdict.upper()}: ", style=VERDICT_STYLES[result.verdict])
    text.append(result.sentence)
    return text


def importance_table(result: ImportanceResult, limit: int | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"importance for {result.metric} (n={result.n_runs})")
    for header in ("key", "kind", "importance", "95% CI", "correlation", "95% CI "):
        table.add_column(header, justify="left" if header in ("key", "kind") else "right")
    for key in result.keys[:limit]:
        strong = key.importance_ci is not None and key.importance_ci[0] > 0
        table.add_row(
            Text(key.key, style="bold" if strong else ""),
            key.kind,
            _number(key.importance, 3),
            _interval(key.importance_ci),
            _number(key.correlation, 3),
            _interval(key.correlation_ci),
        )
    return table


def _run_selection(f: F) -> F:
    f = click.option("--filter", "-f", "filter_", metavar="EXPR", help="Filter (as runs ls).")(f)
    f = click.option("--project", "-p", help="Runs of this project (with RUNS: ignored).")(f)
    return f


@click.command("compare")
@click.argument("runs", nargs=-1, metavar="[RUNS]...")
@click.option("--metric", "-m", required=True, help="Metric to compare, e.g. val/acc.")
@click.option(
    "--by",
    metavar="KEY",
    help="Group by config.KEY (or KEY), user, host, group or status "
    "[default: by configuration, ignoring seed keys].",
)
@_run_selection
@click.option(
    "--higher-is-better/--lower-is-better",
    "higher",
    default=None,
    help="Direction of the metric [default: lower for loss/error/perplexity/time names].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="The /api/significance JSON.")
@user_errors
def compare_command(
    runs: tuple[str, ...],
    metric: str,
    by: str | None,
    project: str | None,
    filter_: str | None,
    higher: bool | None,
    seed: int,
    as_json: bool,
) -> None:
    """Is the difference real? Group RUNS (ID prefixes), or the runs of --project/--filter,
    bootstrap each group's mean final METRIC, and say whether the best group beats the
    runner-up beyond seed noise.

    \b
    Examples:
      labledger compare 3fa9 b71c c0d2 d1e4 --metric val/acc      # runs differing by seed
      labledger compare -p digits -m val/acc --by config.optimizer
      labledger compare -p digits -f "config.epochs = 10" -m val/loss --by user
      labledger compare -p digits -m val/acc --by optimizer --json | jq .verdict
    """
    api = open_api()
    result = api.compare(
        metric,
        list(runs),
        project=project,
        filter=filter_,
        by=by,
        higher_is_better=higher,
        seed=seed,
    )
    if as_json:
        click.echo(render.json_dumps(result.to_dict()))
        return
    console = render.make_console()
    console.print(significance_table(result))
    console.print(verdict_text(result))


@click.command("importance")
@click.argument("runs", nargs=-1, metavar="[RUNS]...")
@click.option("--metric", "-m", required=True, help="Metric to explain, e.g. val/acc.")
@_run_selection
@click.option(
    "--correlation",
    type=click.Choice(["spearman", "pearson"]),
    default="spearman",
    show_default=True,
    help="Correlation for numeric keys.",
)
@click.option("--limit", "-n", type=int, default=None, help="Show only the top N keys.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--explain", is_flag=True, help="Also print how the numbers were computed.")
@click.option("--json", "as_json", is_flag=True, help="The /api/importance JSON.")
@user_errors
def importance_command(
    runs: tuple[str, ...],
    metric: str,
    project: str | None,
    filter_: str | None,
    correlation: str,
    limit: int | None,
    seed: int,
    explain: bool,
    as_json: bool,
) -> None:
    """Which config keys move METRIC: per key a random-forest permutation importance and a
    correlation, each with a 95% bootstrap interval (keys in bold: interval above zero).

    \b
    Examples:
      labledger importance --project digits --metric val/acc
      labledger importance -p digits -m val/loss -f "status = 'finished'" -n 10 --explain
      labledger importance 3fa9 b71c c0d2 d1e4 e5f6 -m val/acc --json
    """
    api = open_api()
    result = api.importance(
        metric,
        list(runs),
        project=project,
        filter=filter_,
        correlation="pearson" if correlation == "pearson" else "spearman",
        seed=seed,
    )
    if as_json:
        click.echo(render.json_dumps(result.to_dict()))
        return
    console = render.make_console()
    console.print(importance_table(result, limit))
    if result.dropped:
        names = ", ".join(f"{d.key} ({d.reason})" for d in result.dropped[:6])
        more = f" and {len(result.dropped) - 6} more" if len(result.dropped) > 6 else ""
        console.print(Text(f"left out: {names}{more}", style="dim"))
    if result.warning:
        console.print(Text(f"Warning: {result.warning}", style="yellow"))
    if explain:
        console.print(Text(result.method, style="dim"))
