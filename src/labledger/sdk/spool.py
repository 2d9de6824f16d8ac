"""Where a writer puts batches its store cannot take, and how they get back.

Batches go to a journal (``labledger.store.journal``, the format the team-server client uses)
in the store's journal folder, else in a folder of the system temp dir named after the store,
else (bounded) memory. ``labledger sync`` and the next ``init`` on that store deliver them
exactly once (each batch carries an idempotency key the store records with it).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from labledger.config import Settings
from labledger.entities import RunRecord
from labledger.store.base import MetricColumns, RunBatch, Store, merge_batches

if TYPE_CHECKING:
    from labledger.store.journal import Journal

log = logging.getLogger("labledger")

MEMORY_LIMIT_POINTS = 5_000_000  # about 120 MB of points kept when no folder takes writes
MIN_SPLIT_POINTS = 256  # a refused batch smaller than twice this is not split further


def fallback_dir(uri: str) -> Path:
    """The temp-dir journal folder of the store at ``uri`` (one per store, never shared)."""
    tag = hashlib.sha256(uri.encode()).hexdigest()[:12]
    import tempfile  # off init's path: it imports shutil, random and more

    return Path(tempfile.gettempdir()) / f"labledger-journal-{tag}"


def journal_dirs(settings: Settings) -> list[Path]:
    """Folders that may hold this store's undelivered writes, in the order they are tried."""
    return [settings.journal_dir, fallback_dir(settings.uri)]


class Spool:
    """Journals one run's unwritten batches; falls back folder by folder, then to memory."""

    def __init__(
        self, locations: list[Path], run_id: str, max_bytes: int, record: RunRecord | None = None
    ) -> None:
        self.locations = list(locations)
        self.run_id = run_id
        self.record = record  # journaled first, so a replaced store gets the run back
        self.max_bytes = max_bytes
        self.memory: list[RunBatch] = []
        self._memory_points = 0
        self._journal: Journal | None = None

    def append(self, batch: RunBatch) -> str:
        """Save ``batch``; return where it went. Raises OSError when even memory is full."""
        from labledger.store.journal import Journal

        while self.locations:
            if self._journal is None:
                try:
                    self._journal = Journal.create(self.locations[0], max_bytes=self.max_bytes)
                    if self.record is not None:
                        self._journal.append_run(self.record)
                except OSError:
                    self.locations.pop(0)
                    continue
            journal = self._journal
            rest = self._fit(journal, batch)
            if rest is None:
                return str(journal.path)
            batch = rest
            # Full or refused (disk full): keep what it holds, go on in the next folder.
            journal.close(remove_if_done=False)
            self._journal = None
            self.locations.pop(0)
        points = _points(batch)
        if self._memory_points + points > MEMORY_LIMIT_POINTS:
            raise OSError("no folder takes writes and the in-memory spool is full")
        self._memory_points += points
        self.memory.append(batch)
        return "memory (no folder takes writes; lost if the process ends before the store is back)"

    def _fit(self, journal: Journal, batch: RunBatch) -> RunBatch | None:
        """Journal as much of ``batch`` as ``journal`` takes, in order; return the rest.

        A batch too large for the space left (a long backlog when the disk fills up, or a
        per-file size limit) is split in halves by points rather than refused whole."""
        if journal.append_batch(self.run_id, batch) is not None:
            return None
        if _points(batch) < 2 * MIN_SPLIT_POINTS:
            return batch
        first, second = split_batch(batch)
        rest = self._fit(journal, first)
        if rest is not None:
            return merge_batches([rest, second])
        return self._fit(journal, second)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close(remove_if_done=False)
            self._journal = None


def _points(batch: RunBatch) -> int:
    return sum(len(c.steps) for c in batch.metrics.values())


def split_batch(batch: RunBatch) -> tuple[RunBatch, RunBatch]:
    """``batch`` as two batches applied in order: the first half of every metric column,
    then the second half with everything else (summaries and the final status land last)."""
    first = RunBatch()
    second = RunBatch(
        summary=batch.summary,
        captures=batch.captures,
        outputs=batch.outputs,
        config=batch.config,
        changes=batch.changes,
    )
    for key, col in batch.metrics.items():
        half = len(col.steps) // 2
        if half:
            first.metrics[key] = MetricColumns(
                col.steps[:half], col.values[:half], col.times[:half]
            )
        second.metrics[key] = MetricColumns(col.steps[half:], col.values[half:], col.times[half:])
    return first, second


def open_spool(
    settings: Settings | None, spool_dir: Path | None, run_id: str, record: RunRecord | None
) -> Spool:
    if settings is not None:
        return Spool(journal_dirs(settings), run_id, settings.journal_max_bytes, record)
    return Spool([spool_dir] if spool_dir else [], run_id, 1 << 30, record)


def redeliver(store: Store, settings: Settings) -> int:
    """Deliver the journals this store's writers left behind (not those of live processes);
    return how many writes were applied now. Never raises: what fails stays journaled."""
    from labledger.sdk.fingerprint import seal_run
    from labledger.store.journal import Journal, journal_files, replay

    applied = 0
    runs: set[str] = set()
    for directory in journal_dirs(settings):
        try:
            paths = journal_files(directory)
        except OSError:
            continue
        for path in paths:
            try:
                journal = Journal.open(path)
            except Exception:  # JournalBusy: a live process's; or unreadable
                continue  # `labledger sync` reports it
            try:
                result = replay(journal, store)
            except Exception as exc:
                log.warning("labledger: could not deliver journal %s yet: %s", path, exc)
                continue
            finally:
                journal.close()
            applied += result.applied
            runs |= result.runs
    for run_id in sorted(runs):
        try:
            record = store.get_run(run_id)
            if str(record.status) != "running" and record.fingerprint is None:
                seal_run(store, run_id, settings)
        except Exception as exc:
            log.warning("labledger: could not seal delivered run %s: %s", run_id, exc)
    if applied:
        log.warning("labledger: delivered %d spooled write(s) of %d run(s)", applied, len(runs))
    return applied
