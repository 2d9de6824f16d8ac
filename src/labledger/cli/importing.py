"""``labledger import mlflow|tensorboard|labledger``: bring runs recorded elsewhere over.

Every importer is idempotent (a run already imported is skipped before anything is read)
and resumable (each run lands in one transaction, so an interrupted import is finished by
running it again), and shows a progress bar on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import click

from labledger.cli.common import user_errors
from labledger.config import load_settings
from labledger.sdk.api import Api
from labledger.sdk.importing import ImportedRun, Importer, imported_run_id


class Source(Protocol):
    """Where runs come from: their IDs cheaply, then one run at a time."""

    name: str

    def run_ids(self) -> Iterator[tuple[str, Any, Any]]: ...

    def load(self, source_id: str, context: Any, handle: Any, scratch: Path) -> ImportedRun: ...


def run_import(source: Source, *, quiet: bool = False) -> tuple[int, int]:
    """Import every run of ``source``; returns ``(imported, already present)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from labledger.cli.import_mlflow import scratch_dir

    api = Api(settings=load_settings())
    importer = Importer(api)
    entries = list(source.run_ids())
    imported = skipped = 0
    progress = Progress(
        TextColumn(f"importing from {source.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=quiet,
        transient=True,
    )
    with progress, scratch_dir() as scratch:
        task = progress.add_task("runs", total=len(entries))
        target = getattr(source, "target_id", None) or (
            lambda source_id: imported_run_id(source.name, source_id)
        )
        for source_id, context, handle in entries:
            if importer.is_imported(target(source_id)):
                skipped += 1
            else:
                run = source.load(source_id, context, handle, Path(scratch))
                _, written = importer.write(run)
                imported += written
                skipped += not written
            progress.advance(task)
    return imported, skipped


def _report(imported: int, skipped: int) -> None:
    click.echo(f"imported {imported} run(s); {skipped} already present")


@click.group("import")
def import_group() -> None:
    """Import runs from MLflow, TensorBoard or a labledger export bundle.

    Imports are idempotent (importing twice adds nothing) and resumable (rerun an
    interrupted import to finish it). Imported runs carry an `origin` section naming
    where they came from; `labledger check` shows what they lack (code, packages, seeds).

    \b
    Examples:
      labledger import mlflow ./mlruns
      labledger import mlflow sqlite:///mlflow.db --experiment digits
      labledger import mlflow http://mlflow.example.com:5000
      labledger import tensorboard ./lightning_logs --project digits
      labledger import labledger ./export-digits
    """


@import_group.command("mlflow")
@click.argument("path_or_uri")
@click.option("-e", "--experiment", help="Only this experiment (name or ID).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def import_mlflow(path_or_uri: str, experiment: str | None, quiet: bool) -> None:
    """Import an MLflow store: a folder (mlruns), a .db file, or a tracking URI.

    Experiments become projects; params, tags, metrics with their full history, and
    artifacts come along. Needs mlflow (pip install 'labledger[mlflow]').
    """
    from labledger.cli.import_mlflow import MlflowSource

    _report(*run_import(MlflowSource(path_or_uri, experiment), quiet=quiet))


@import_group.command("tensorboard")
@click.argument("logdir", type=click.Path(exists=True, file_okay=False))
@click.option("-p", "--project", help="Project for the runs (default: the folder's name).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def import_tensorboard(logdir: str, project: str | None, quiet: bool) -> None:
    """Import TensorBoard event files: each folder holding events is one run.

    Scalars keep their step and wall time; hparams become the config. Read with
    tensorboard's own event reader (pip install 'labledger[tensorboard]').
    """
    from labledger.cli.import_tensorboard import TensorboardSource

    _report(*run_import(TensorboardSource(logdir, project), quiet=quiet))


@import_group.command("labledger")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def import_labledger(folder: str, quiet: bool) -> None:
    """Import a bundle written by `labledger export --bundle DIR`, losslessly.

    Runs keep their IDs, times, config, captures, console output, every metric point and
    their artifacts (same digests, versions and aliases).
    """
    from labledger.cli.bundle import BundleSource

    source = BundleSource(folder)
    _report(*run_import(source, quiet=quiet))
    source.finish(Api(settings=load_settings()))
