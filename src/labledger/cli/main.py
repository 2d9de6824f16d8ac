"""The ``labledger`` command: subcommand groups live in their own modules."""

from __future__ import annotations

import sys

import click

from labledger.cli.artifacts import artifacts_group, gc_command
from labledger.cli.export import export_command
from labledger.cli.repro import check, reproduce, share, verify
from labledger.cli.runs import projects_command, runs_group
from labledger.errors import LabledgerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="labledger")
def cli() -> None:
    """labledger: every training run recorded completely enough to reproduce it.

    The store is found from LABLEDGER_URI, LABLEDGER_DIR, labledger.toml, or
    .labledger/ at the git root (the current directory outside git).
    """


cli.add_command(runs_group)
cli.add_command(projects_command)
cli.add_command(export_command)
cli.add_command(artifacts_group)
cli.add_command(gc_command)
cli.add_command(reproduce)
cli.add_command(verify)
cli.add_command(check)
cli.add_command(share)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 1, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except LabledgerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
