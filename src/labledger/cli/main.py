"""The ``labledger`` command: subcommand groups live in their own modules."""

from __future__ import annotations

import sys

import click

from labledger.cli.lazy import LazyGroup
from labledger.errors import LabledgerError

COMMANDS = {
    "artifacts": "labledger.cli.artifacts:artifacts_group",
    "check": "labledger.cli.repro:check",
    "compare": "labledger.cli.analysis:compare_command",
    "db": "labledger.cli.server:db_group",
    "export": "labledger.cli.export:export_command",
    "gc": "labledger.cli.artifacts:gc_command",
    "import": "labledger.cli.importing:import_group",
    "importance": "labledger.cli.analysis:importance_command",
    "login": "labledger.cli.team:login_command",
    "logout": "labledger.cli.team:logout_command",
    "project": "labledger.cli.team:project_group",
    "projects": "labledger.cli.runs:projects_command",
    "report": "labledger.cli.report:report_command",
    "reproduce": "labledger.cli.repro:reproduce",
    "reproductions": "labledger.cli.repro:reproductions_group",
    "runs": "labledger.cli.runs:runs_group",
    "server": "labledger.cli.server:server_command",
    "share": "labledger.cli.repro:share",
    "sync": "labledger.cli.sync:sync_command",
    "token": "labledger.cli.team:token_group",
    "ui": "labledger.cli.ui:ui_command",
    "user": "labledger.cli.team:user_group",
    "verify": "labledger.cli.repro:verify",
    "whoami": "labledger.cli.team:whoami_command",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="labledger")
def cli() -> None:
    """labledger: every training run recorded completely enough to reproduce it.

    Runs are recorded by `labledger.init()` in training scripts; this command reads
    them back, compares them, manages artifacts and reproduces results.

    \b
    Examples:
      labledger runs ls --project digits --filter "metrics.f1 > 0.9" --sort -metrics.f1
      labledger runs show 3fa9             # a unique ID prefix is enough
      labledger runs diff 3fa9 b71c        # what differs: config, metrics, packages, git
      labledger artifacts get digits-mlp:best ./model
      labledger check 3fa9 && labledger share 3fa9 --markdown
      labledger reproduce 3fa9 --dry-run
      labledger compare -p digits -m val/acc --by optimizer   # is the difference real?
      labledger report -p digits -o report.html           # one offline HTML file
      labledger ui                         # the web UI on 127.0.0.1

    The store is found from LABLEDGER_URI, LABLEDGER_DIR, labledger.toml, or
    .labledger/ at the git root (the current directory outside git).
    """


# C0 and C1 controls and the Unicode line separators (str.splitlines breaks on several).
_BREAKERS = [*range(32), *range(127, 160), 0x2028, 0x2029]
_CONTROL = {c: f"\\u{c:04x}" for c in _BREAKERS} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(message: str) -> str:
    """``message`` with control characters escaped: an argument holding a newline or a
    carriage return (or a terminal escape) cannot break the one-line error or the terminal."""
    return message.translate(_CONTROL)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 1, never a traceback."""
    try:
        # Without standalone mode Click returns the code a command passed to ctx.exit(code).
        result = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # `labledger runs`: the group's help
        click.echo(exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:  # one line, as for every other error
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"Error: {one_line(exc.format_message())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except LabledgerError as exc:
        click.echo(f"Error: {one_line(str(exc))}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(result if isinstance(result, int) else 0)
