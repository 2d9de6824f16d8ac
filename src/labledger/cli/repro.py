"""``labledger reproduce | verify | check | share``: rebuilding and vouching for a result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from labledger.cli.common import open_api, user_errors
from labledger.config import load_settings
from labledger.errors import LabledgerError
from labledger.repro.check import CheckReport, check_run
from labledger.repro.environment import (
    InstallError,
    PackageDifference,
    current_environment_report,
)
from labledger.repro.housekeeping import Leftover, leftovers, remove
from labledger.repro.plan import EnvMode, ReproPlan, build_plan
from labledger.repro.reproduce import ReproResult, run_plan
from labledger.repro.share import render_markdown, render_text, summarize
from labledger.repro.sweep import rerun_note
from labledger.repro.verify import Tolerance, Verification, parse_tolerances, verify_runs

__all__ = ["check", "reproduce", "reproductions_group", "share", "verify"]

F = TypeVar("F", bound=Callable[..., Any])
MAX_LISTED = 20
STATUS_STYLES = {"pass": "green", "warn": "yellow", "fail": "red"}


def _tolerance_options(fn: F) -> F:
    options = [
        click.option(
            "--rtol",
            type=float,
            default=1e-5,
            show_default=True,
            help="Relative tolerance for every metric.",
        ),
        click.option(
            "--atol",
            type=float,
            default=1e-8,
            show_default=True,
            help="Absolute tolerance for every metric.",
        ),
        click.option(
            "--tol",
            "tols",
            multiple=True,
            metavar="KEY=X",
            help="Absolute tolerance X for metric KEY (a glob such as 'val/*'); "
            "replaces --rtol/--atol for it. Repeatable.",
        ),
        click.option(
            "--include-system",
            is_flag=True,
            help="Also compare system/* metrics (ignored by default).",
        ),
        click.option(
            "--ignore",
            "ignore",
            multiple=True,
            metavar="GLOB",
            help="Metric keys not to compare. Repeatable.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _tolerance(rtol: float, atol: float, tols: Sequence[str]) -> Tolerance:
    if rtol < 0 or atol < 0:
        raise LabledgerError("--rtol and --atol must not be negative")
    return Tolerance(rtol=rtol, atol=atol, per_metric=parse_tolerances(tols))


# --- rendering ---------------------------------------------------------------------------------


def _echo_differences(differences: Sequence[PackageDifference]) -> None:
    """Every differing package: changed versions, then missing now, then not in the record."""

    def order(d: PackageDifference) -> tuple[int, str]:
        return (0 if d.recorded and d.current else 1 if d.recorded else 2), d.name

    click.echo(f"  {len(differences)} package(s) differ from the record (name, recorded, current):")
    for d in sorted(differences, key=order):
        click.echo(f"    {d.name:<32} {d.recorded or '(absent)':<20} {d.current or '(absent)'}")


def _echo_plan(plan: ReproPlan) -> None:
    code = plan.code
    click.echo(f"Reproduction of run {plan.run_id} (project {plan.project})")
    click.echo(f"  workdir:     {plan.workdir}")
    source = f"from {code.repo}" + (f", remote {code.remote_url}" if code.remote_url else "")
    click.echo(f"  commit:      {code.commit}" + (f" ({code.branch})" if code.branch else ""))
    click.echo(f"               {source}")
    if code.diff:
        files = code.changed_files
        click.echo(
            f"  patch:       {len(code.diff.encode())} bytes, {code.patch_lines} lines, "
            f"{len(files)} file(s): {', '.join(files[:MAX_LISTED])}"
        )
    else:
        click.echo("  patch:       none (clean tree)")
    untracked = sorted(code.untracked)
    click.echo(f"  untracked:   {', '.join(untracked[:MAX_LISTED]) if untracked else 'none'}")
    env = plan.env
    if env.mode == "venv":
        built = "reused" if (plan.venv_dir / ".labledger-complete").is_file() else "built"
        click.echo(f"  environment: {plan.venv_dir} ({built} for this package lock)")
        click.echo(
            f"               {len(env.pinned)} packages pinned"
            + (f", Python {env.python_version} recorded" if env.python_version else "")
        )
        for source_ in env.sources:
            if source_.kind != "registry":
                click.echo(f"               {source_.requirement} ({source_.name}, {source_.kind})")
        for url in env.indexes:
            click.echo(f"               index {url}")
    else:
        click.echo("  environment: the current interpreter (--env current)")
    click.echo(f"  command:     {plan.command.display()}")
    click.echo(f"  in:          {plan.command.cwd}")
    if plan.command.init_cwd is not None:
        click.echo(f"  (init ran in {plan.command.init_cwd}: the program changes folder itself)")
    if plan.command.env:
        shown = ", ".join(f"{k}={v}" for k, v in plan.command.env.items())
        click.echo(f"  variables:   {shown}")
    if plan.command.unset:
        click.echo(f"  unset:       {', '.join(plan.command.unset)} (not set in the original)")
    for note in (*(env.notes if env.mode == "venv" else ()), *plan.warnings):
        click.secho(f"  warning: {note}", fg="yellow")
    for problem in plan.problems:
        click.secho(f"  cannot run: {problem}", fg="red")


def _echo_artifacts(v: Verification) -> None:
    for artifact in v.artifacts:
        if artifact.identical:
            click.echo(f"  artifact {artifact.name}: identical, bit for bit ({artifact.a_digest})")
        elif artifact.a_digest is None or artifact.b_digest is None:
            side = v.a_id if artifact.a_digest is None else v.b_id
            click.echo(f"  artifact {artifact.name}: not logged by run {side}")
        else:
            click.echo(
                f"  artifact {artifact.name}: different bytes "
                f"({str(artifact.a_digest)[:19]} vs {str(artifact.b_digest)[:19]})"
            )


def _echo_verification(v: Verification, tolerance: Tolerance) -> None:
    _echo_verification_metrics(v, tolerance)
    _echo_artifacts(v)


def _echo_verification_metrics(v: Verification, tolerance: Tolerance) -> None:
    if not v.checks:
        click.secho(
            f"NOT REPRODUCED: runs {v.a_id} and {v.b_id} have no metrics to compare",
            fg="red",
            bold=True,
        )
        return
    if v.reproduced:
        click.secho(
            f"REPRODUCED: run {v.b_id} matches run {v.a_id} on {v.compared} metric(s) "
            f"(rtol {tolerance.rtol:g}, atol {tolerance.atol:g})",
            fg="green",
            bold=True,
        )
        return
    failing = {c.key for c in v.failures}
    click.secho(
        f"NOT REPRODUCED: {len(failing)} of {v.compared} metric(s) differ "
        f"between run {v.a_id} and run {v.b_id}",
        fg="red",
        bold=True,
    )
    for c in v.failures:
        if c.kind == "final" and c.abs_diff is not None:
            rel = f", {c.rel_diff:.2%}" if c.rel_diff is not None else ""
            click.echo(f"  final {c.key}: {c.a!r} vs {c.b!r} (|Δ| {c.abs_diff:.4g}{rel})")
        elif c.kind == "final":
            click.echo(
                f"  final {c.key}: {c.a!r} vs {c.b!r}" + (f" ({c.detail})" if c.detail else "")
            )
        else:
            click.echo(f"  curve {c.key}: {c.detail}")
    if not v.causes:
        click.echo(
            "No recorded difference explains it: the computation is likely "
            f"nondeterministic (see: labledger check {v.a_id})."
        )
        return
    click.echo("Recorded differences that could explain it, most likely first:")
    for i, cause in enumerate(v.causes, 1):
        marker = "  <- likely cause" if i == 1 else ""
        click.echo(f"  {i}. {cause.title}{marker}")
        for line in cause.details:
            click.echo(f"       {line}")


def _echo_result(result: ReproResult, tolerance: Tolerance) -> None:
    click.echo(f"Code: {result.checkout}")
    env = result.env
    if env is not None:
        for note in env.notes:
            if note not in result.plan.env.notes:  # those were printed with the plan
                click.secho(f"  note: {note}", fg="yellow")
        if env.failures:
            click.secho(f"  {len(env.failures)} package(s) could not be installed:", fg="red")
            for failure in env.failures[:MAX_LISTED]:
                click.echo(f"    {failure.requirement}: {failure.reason}")
        if env.differences:
            _echo_differences(env.differences)
        elif env.mode == "current":
            click.echo("  every recorded package matches the current environment")
    if result.exit_code:
        click.secho(f"The rerun exited with code {result.exit_code}.", fg="red")
    if not result.runs:
        if result.exit_code:
            raise LabledgerError(
                f"the rerun failed (exit code {result.exit_code}) before it recorded a run; "
                "its output is above"
            )
        raise LabledgerError(
            f"the rerun recorded no run linked to {result.plan.run_id} "
            "(does the command call labledger.init?)"
        )
    ids = ", ".join(r.id for r in result.runs)
    click.echo(f"Reproduction run(s): {ids} (reproduces {result.plan.run_id})")
    sweep = rerun_note(result.plan.run_id, result.plan.siblings, len(result.runs))
    if sweep:
        click.secho(f"  note: {sweep}", fg="yellow" if len(result.runs) > 1 else None)
    if result.verification is not None:
        _echo_verification(result.verification, tolerance)


def _echo_check(report: CheckReport) -> None:
    click.echo(f"Reproducibility check of run {report.run_id}")
    for item in report.items:
        label = click.style(f"{item.status.upper():<4}", fg=STATUS_STYLES[item.status], bold=True)
        click.echo(f"  {label}  {item.name:<12} {item.message}")
        if item.fix and item.status != "pass":
            click.echo(f"        {'':<12} fix: {item.fix}")
    verdict = click.style(report.verdict.upper(), fg=STATUS_STYLES[report.verdict], bold=True)
    click.echo(
        f"Verdict: {verdict} ({report.count('pass')} pass, {report.count('warn')} warn, "
        f"{report.count('fail')} fail)"
    )


# --- commands ----------------------------------------------------------------------------------


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    help="Folder for the rebuilt code and environment [default: <store>/reproductions/<run>-<n>].",
)
@click.option(
    "--env",
    "env_mode",
    type=click.Choice(["venv", "current"]),
    default="venv",
    show_default=True,
    help="venv: a new environment with the recorded versions; current: this one, "
    "reporting every package that differs.",
)
@click.option(
    "--installer",
    type=click.Choice(["auto", "pip", "uv"]),
    default="auto",
    show_default=True,
    help="Package installer for --env venv (auto: uv when on PATH).",
)
@click.option(
    "--skip-package",
    "skip_packages",
    multiple=True,
    metavar="NAME",
    help="Leave recorded package NAME out of the environment (--env venv). Repeatable.",
)
@click.option(
    "--index-url",
    "index_urls",
    multiple=True,
    metavar="URL",
    help="Another package index to install recorded packages from. Repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan without running anything.")
@_tolerance_options
@user_errors
def reproduce(
    run_ref: str,
    workdir: Path | None,
    env_mode: str,
    installer: str,
    skip_packages: tuple[str, ...],
    index_urls: tuple[str, ...],
    dry_run: bool,
    rtol: float,
    atol: float,
    tols: tuple[str, ...],
    include_system: bool,
    ignore: tuple[str, ...],
) -> None:
    """Rebuild RUN's code, environment and command, run it again and verify the result.

    Exit code 0 only when the rerun reproduces RUN's metrics.
    """
    tolerance = _tolerance(rtol, atol, tols)
    api = open_api()
    original = api.run(run_ref)
    mode: EnvMode = "current" if env_mode == "current" else "venv"
    plan = build_plan(
        original,
        api.settings,
        workdir=workdir,
        env_mode=mode,
        skip_packages=skip_packages,
        index_urls=index_urls,
    )
    _echo_plan(plan)
    if dry_run:
        if mode == "current":
            differences = current_environment_report(plan.env).differences
            if differences:
                _echo_differences(differences)
            else:
                click.echo("  every recorded package matches the current environment")
        return
    try:
        result = run_plan(
            plan,
            original,
            api.store,
            api.settings,
            installer="uv" if installer == "uv" else "pip" if installer == "pip" else "auto",
            tolerance=tolerance,
            include_system=include_system,
            ignore=ignore,
            progress=lambda message: click.echo(f"-> {message}"),
        )
    except InstallError as exc:
        click.secho(f"{len(exc.failures)} package(s) could not be installed:", fg="red", err=True)
        for failure in exc.failures[:MAX_LISTED]:
            click.echo(f"    {failure.requirement}: {failure.reason}", err=True)
        raise
    _echo_result(result, tolerance)
    if not result.reproduced:
        click.get_current_context().exit(1)


@click.command()
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@_tolerance_options
@click.option("--no-curves", is_flag=True, help="Compare final values only, not whole curves.")
@user_errors
def verify(
    run_a: str,
    run_b: str,
    rtol: float,
    atol: float,
    tols: tuple[str, ...],
    include_system: bool,
    ignore: tuple[str, ...],
    no_curves: bool,
) -> None:
    """Whether RUN_B reproduces RUN_A: final metrics and curves within tolerances, and the
    recorded differences that could explain a mismatch. Exit code 0 only when reproduced."""
    tolerance = _tolerance(rtol, atol, tols)
    api = open_api()
    a, b = api.run(run_a), api.run(run_b)
    result = verify_runs(
        a,
        b,
        api.store,
        tolerance,
        include_system=include_system,
        ignore=ignore,
        curves=not no_curves,
    )
    _echo_verification(result, tolerance)
    if not result.reproduced:
        click.get_current_context().exit(1)


@click.command()
@click.argument("run_ref", metavar="RUN")
@user_errors
def check(run_ref: str) -> None:
    """Reproducibility checklist for RUN: code, packages, seeds, data, weights, determinism
    settings and the record's fingerprint. Exit code 1 when an item fails."""
    api = open_api()
    report = check_run(api.run(run_ref), api.store, api.settings)
    _echo_check(report)
    if not report.ok:
        click.get_current_context().exit(1)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--markdown", is_flag=True, help="Markdown (a table of metrics) instead of text.")
@user_errors
def share(run_ref: str, markdown: bool) -> None:
    """A short pasteable summary of RUN: metrics, commit, check verdict, fingerprint, and a
    link when LABLEDGER_SERVER_URL is set."""
    api = open_api()
    run = api.run(run_ref)
    report = check_run(run, api.store, api.settings)
    summary = summarize(run, report, load_settings().server_url)
    click.echo(render_markdown(summary) if markdown else render_text(summary))


@click.group("reproductions")
def reproductions_group() -> None:
    """What `labledger reproduce` leaves on disk: worktrees and shared environments.

    \b
    Examples:
      labledger reproductions ls
      labledger reproductions clean --yes
      labledger reproductions clean --keep-venvs
    """


def _echo_leftovers(items: Sequence[Leftover]) -> None:
    from labledger.cli.render import format_bytes

    for item in items:
        click.echo(f"  {item.kind:<9} {format_bytes(item.size):>10}  {item.path}")
    total = sum(item.size for item in items)
    click.echo(f"{len(items)} folder(s), {format_bytes(total)} in all")


@reproductions_group.command("ls")
@user_errors
def reproductions_ls() -> None:
    """Reproduction worktrees and shared environments, with their sizes."""
    items = leftovers(load_settings())
    if not items:
        click.echo("No reproductions on disk.")
        return
    _echo_leftovers(items)


@reproductions_group.command("clean")
@click.option("--keep-venvs", is_flag=True, help="Remove worktrees only; keep the environments.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed.")
@user_errors
def reproductions_clean(keep_venvs: bool, yes: bool, dry_run: bool) -> None:
    """Remove reproduction worktrees (unregistered from your repository) and environments.

    The runs they recorded stay in the store.
    """
    items = leftovers(load_settings(), venvs=not keep_venvs)
    if not items:
        click.echo("No reproductions on disk.")
        return
    _echo_leftovers(items)
    if dry_run:
        return
    if not yes and not click.confirm("Remove them?", default=False):
        click.echo("Nothing removed.")
        return
    for item in items:
        remove(item)
    click.echo(f"Removed {len(items)} folder(s).")
