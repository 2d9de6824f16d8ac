"""``labledger sync --dry-run``: what ``sync`` would deliver, read without writing anything."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from labledger.cli import render
from labledger.config import Settings
from labledger.errors import LabledgerError

if TYPE_CHECKING:
    from labledger.store.base import Store
    from labledger.store.journal import JournalSummary


@dataclass(frozen=True)
class PointJournalInfo:
    """A run's leftover point journal (``labledger.sdk.mmap_journal``)."""

    run_id: str
    name: str | None
    project: str | None
    status: str | None  # in the store; None while its row is not written
    pending: int  # points past the committed sequence number: what sync would replay
    size: int  # bytes of its segments on disk
    live: bool  # its process still holds the lock: sync skips it

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "point_journal",
            "run_id": self.run_id,
            "name": self.name,
            "project": self.project,
            "status": self.status,
            "in_store": self.status is not None,
            "pending_points": self.pending,
            "bytes": self.size,
            "process": "alive" if self.live else "gone",
        }


def point_journals(store: Store | None, journal_dir: Path) -> list[PointJournalInfo]:
    """Every point journal in ``journal_dir``, counted against ``store`` (None: unreachable)."""
    from labledger.errors import RunNotFound
    from labledger.sdk.mmap_journal import (
        is_live,
        pending_points,
        pending_runs,
        points_dir,
        saved_record,
        segments,
    )

    infos = []
    for run_id in pending_runs(journal_dir):
        record, status = None, None
        if store is not None:
            with contextlib.suppress(RunNotFound):
                record = store.get_run(run_id)
                status = str(record.status)
        record = record or saved_record(journal_dir, run_id)
        size = 0
        for path in segments(points_dir(journal_dir), run_id):
            with contextlib.suppress(OSError):
                size += path.stat().st_size
        infos.append(
            PointJournalInfo(
                run_id=run_id,
                name=record.name if record else None,
                project=record.project if record else None,
                status=status,
                pending=pending_points(store, journal_dir, run_id),
                size=size,
                live=is_live(journal_dir, run_id),
            )
        )
    return infos


def batch_journals(paths: list[Path]) -> tuple[list[JournalSummary], list[str]]:
    """The client journals among ``paths`` and a message per file that cannot be read."""
    from labledger.store.journal import inspect

    summaries, problems = [], []
    for path in paths:
        try:
            summaries.append(inspect(path))
        except LabledgerError as exc:
            problems.append(str(exc))
    return summaries, problems


def _batch_json(summary: JournalSummary) -> dict[str, Any]:
    return {
        "kind": "client_journal",
        "path": str(summary.path),
        "pending_writes": summary.pending,
        "runs": list(summary.runs),
        "bytes": summary.size,
        "torn_bytes": summary.torn_bytes,
        "process": "alive" if summary.busy else "gone",
    }


def open_store_read_only(settings: Settings) -> tuple[Store | None, str | None]:
    """The store, or None and why: a SQLite file that does not exist is not created."""
    from labledger.store import masked_uri, open_store

    if settings.uri.startswith("sqlite:///"):
        path = Path(settings.uri.removeprefix("sqlite:///"))
        if not path.exists():
            return None, f"no store at {path} yet"
    try:
        return open_store(settings.uri, settings=settings), None
    except Exception as exc:  # listing still works; the counts then include committed points
        return None, f"cannot open {masked_uri(settings.uri)} ({exc})"


def _status(info: PointJournalInfo) -> Text:
    if info.status is None:
        return Text("not stored yet")
    if info.status == "running" and not info.live:
        return Text("running → crashed", style="bold red")  # what recovery will record
    return render.status_text(info.status)


def _process(live: bool) -> Text:
    return Text("alive (skipped)", style="yellow") if live else Text("gone")


def preview(settings: Settings, directories: list[Path], paths: list[Path], as_json: bool) -> None:
    """Print what ``sync`` would deliver; write nothing."""
    store, why = open_store_read_only(settings)
    try:
        points = point_journals(store, settings.journal_dir)
    finally:
        if store is not None:
            store.close()
    batches, problems = batch_journals(paths)
    err = render.make_console(stderr=True)
    for problem in problems:
        err.print(f"warning: {problem}", style="yellow", markup=False)
    if why is not None and points:
        err.print(
            f"warning: {why}: point counts include points the store may already hold",
            style="yellow",
            markup=False,
        )
    if as_json:
        for info in points:
            click.echo(render.json_dumps(info.as_json()))
        for summary in batches:
            click.echo(render.json_dumps(_batch_json(summary)))
        if not points and not batches:
            err.print(_nothing(settings, directories), style="dim", markup=False)
        return
    if not points and not batches:
        click.echo(_nothing(settings, directories))
        return
    console = render.make_console()
    if points:
        table = render.data_table("Point journals (crashed or running processes)")
        for column in ("run", "name", "project", "status"):
            table.add_column(column)
        table.add_column("points", justify="right")
        table.add_column("on disk", justify="right")
        table.add_column("process")
        for info in points:
            table.add_row(
                Text(info.run_id),
                Text(info.name or render.MISSING_TEXT),
                Text(info.project or render.MISSING_TEXT),
                _status(info),
                str(info.pending),
                render.format_bytes(info.size),
                _process(info.live),
            )
        console.print(table)
    if batches:
        table = render.data_table("Client journals (writes not acknowledged by the store)")
        table.add_column("file")
        table.add_column("writes", justify="right")
        table.add_column("runs")
        table.add_column("on disk", justify="right")
        table.add_column("process")
        for summary in batches:
            runs = ", ".join(summary.runs) or render.MISSING_TEXT
            torn = f" (+{summary.torn_bytes} B torn)" if summary.torn_bytes else ""
            table.add_row(
                Text(str(summary.path)),
                str(summary.pending),
                Text(runs),
                render.format_bytes(summary.size) + torn,
                _process(summary.busy),
            )
        console.print(table)
    console.print(_summary(points, batches), style="dim", markup=False)


def _summary(points: list[PointJournalInfo], batches: list[JournalSummary]) -> str:
    gone = [p for p in points if not p.live]
    free = [b for b in batches if not b.busy]
    parts = [
        f"sync would replay {sum(p.pending for p in gone)} point(s) of {len(gone)} run(s)",
        f"deliver {sum(b.pending for b in free)} write(s) from {len(free)} client journal(s)",
    ]
    skipped = len(points) - len(gone) + len(batches) - len(free)
    text = " and ".join(parts)
    if skipped:
        text += f"; {skipped} journal(s) of running processes are skipped"
    return text + ". Nothing was written (--dry-run)."


def _nothing(settings: Settings, directories: list[Path]) -> str:
    from labledger.sdk.mmap_journal import points_dir

    folders = ", ".join(str(d) for d in directories)
    return (
        f"nothing to sync: no point journal in {points_dir(settings.journal_dir)} "
        f"and no client journal in {folders}"
    )
