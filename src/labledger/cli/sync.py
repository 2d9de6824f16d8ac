"""``labledger sync``: deliver journals left by offline runs and crashed processes."""

from __future__ import annotations

from pathlib import Path

import click

from labledger.config import load_settings
from labledger.entities import RunStatus
from labledger.sdk.fingerprint import seal_run
from labledger.sdk.mmap_journal import pending_runs, recover
from labledger.sdk.spool import journal_dirs
from labledger.store import open_store
from labledger.store.journal import Journal, JournalBusy, journal_files, replay


@click.command("sync")
@click.option(
    "--dir",
    "journal_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Client journal folder (default: journal/ in the local store folder).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List what would be delivered (point journals, client journals); write nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: one JSON object per line.")
def sync_command(journal_dir: Path | None, dry_run: bool, as_json: bool) -> None:
    """Deliver runs logged offline and writes journaled by crashed processes to the store.

    Two kinds of journal: the point journal of a run whose process died (SIGKILL, OOM)
    before the writer stored its last points, and the client journal of writes a team
    server or an unreachable store has not acknowledged. Safe to repeat and to interrupt:
    each point and write lands once. Journals of processes still running are skipped.

    \b
    Examples:
      labledger sync --dry-run          # what would be delivered; nothing is written
      labledger sync --dry-run --json | jq .pending_points
      labledger sync
      LABLEDGER_URI=https://ledger.example.com labledger sync --dir ~/offline-runs/journal
    """
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run")
    settings = load_settings().with_overrides(offline=False)
    directories = [journal_dir] if journal_dir else journal_dirs(settings)
    paths = [path for directory in directories for path in journal_files(directory)]
    if dry_run:
        from labledger.cli.sync_preview import preview

        preview(settings, directories, paths, as_json)
        return
    crashed = pending_runs(settings.journal_dir)
    if not paths and not crashed:
        click.echo(f"nothing to sync in {directories[0]}")
        return
    store = open_store(settings.uri, settings=settings)
    applied = duplicates = synced = 0
    runs: set[str] = set()
    try:
        for path in paths:
            try:
                journal = Journal.open(path)
            except JournalBusy:
                click.echo(f"skipped {path.name}: its process is still running")
                continue
            try:
                result = replay(journal, store)
            finally:
                journal.close()
            applied += result.applied
            duplicates += result.duplicates
            synced += 1
            runs |= result.runs
        recovered = recover(store, settings.journal_dir) if crashed else 0
        for run_id in sorted(runs):  # offline runs were not fingerprinted at finish
            record = store.get_run(run_id)
            if record.status is not RunStatus.RUNNING and record.fingerprint is None:
                seal_run(store, run_id, settings)
    finally:
        store.close()
    click.echo(
        f"synced {applied} write(s) for {len(runs)} run(s) from {synced} journal(s) to "
        f"{settings.uri}; {duplicates} had already arrived"
    )
    if recovered:
        click.echo(f"recovered {recovered} point(s) of crashed runs from their point journals")
