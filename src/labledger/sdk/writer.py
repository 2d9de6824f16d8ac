"""The background writer: the only code between ``run.log`` and the store.

``run.log`` copies ``(time, step, dict)`` into the run's point journal
(``labledger.sdk.mmap_journal``), or without one appends it to a deque; this thread wakes every
``flush_interval`` seconds, turns whatever has been journaled or queued since into one numpy
column per key and sends it, with queued summaries, captures, console output and run-field
changes, as one ``RunBatch``: one durable transaction per flush. A batch that fails to write is
kept and retried; when the store is gone (file deleted or replaced, read-only, disk full) or
still failing at shutdown, it goes to the spool (``labledger.sdk.spool``) instead of being lost.

Every point is isolated: a key or value that cannot be stored is skipped with one warning per
key naming the reason, counted (``point_columns``; recorded in the run's ``dropped`` capture
section), and every other point lands. The thread never dies of an exception; if it dies anyway,
``on_death`` tells the run, whose next ``log`` warns and restarts it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labledger.config import Settings
from labledger.entities import RunRecord
from labledger.errors import StoreUnavailable
from labledger.sdk import compactor, lifecycle
from labledger.sdk.mmap_journal import KINDS, PointJournal
from labledger.sdk.mmap_journal import SECTION as JOURNAL_SECTION
from labledger.sdk.point_columns import Columnizer, Point
from labledger.store.base import MetricColumns, RunBatch, Store

log = logging.getLogger("labledger")

# One drain: columns, the other kinds' items (KINDS order), journal sequence number, values.
Drained = tuple[dict[str, MetricColumns], tuple[list[Any], ...], int | None, int]

OutputLine = tuple[str, float, str]
RETRIES_BEFORE_SPOOL = 20  # consecutive failed background flushes (about a second at 50 ms)
FLUSH_VALUES = 1 << 18  # a background flush takes whole drains up to this many values
DRAIN_BYTES = 4 << 20  # a drain decodes about this much of the point journal at most


class Writer:
    """Drains what one run queues (points, summaries, captures, output, config) into a store.

    ``store`` may be a callable that opens it: the thread calls it first, so ``init`` does not
    wait for SQLAlchemy's import and the schema check; what is logged meanwhile queues. With
    ``create`` (a new run's record), the run's row is written in the transaction of the first
    flush, not in one of its own.
    """

    def __init__(
        self,
        store: Store | Callable[[], Store],
        run_id: str,
        *,
        flush_interval: float = 0.05,
        heartbeat_interval: float = 5.0,
        spool_dir: Path | None = None,
        strict: bool = False,
        on_death: Callable[[BaseException], None] | None = None,
        settings: Settings | None = None,
        record: RunRecord | None = None,
        create: RunRecord | None = None,
    ) -> None:
        self._opener: Callable[[], Store] | None = None
        self._store: Store | None = None
        if hasattr(store, "write_batch"):
            self._store = store  # type: ignore[assignment]
        else:
            self._opener = store
        self._open_lock = threading.Lock()
        self._create = create  # written with the first flush
        self.run_id = run_id
        self.points: collections.deque[Point] = collections.deque()
        self.outputs: collections.deque[OutputLine] = collections.deque()
        self.summaries: collections.deque[dict[str, Any]] = collections.deque()
        self.captures: collections.deque[dict[str, Any]] = collections.deque()
        self.configs: collections.deque[dict[str, Any]] = collections.deque()
        self.flush_interval = max(flush_interval, 0.001)
        self.heartbeat_interval = heartbeat_interval
        self.spool_dir = spool_dir
        self.strict = strict
        self.on_death = on_death
        self.settings = settings  # where to journal what the store cannot take
        self.record = record
        self.journal: PointJournal | None = None  # what run.log journals points into
        self._journal_seq = 0  # the journal's sequence number the drained items reach
        self.columnizer = Columnizer()  # also counts what it skips, with the reasons
        self.spooled_to: str | None = None  # where unwritten batches went, once spooling
        self.error: BaseException | None = None  # the last background write error
        self._failures = 0
        self._spool: Any = None
        self._pending = RunBatch()
        # Drained, not in a batch yet, one entry per drain: the points' columns, the other
        # kinds' items (KINDS order), the journal's sequence number after them (None when it
        # did not move) and the number of values.
        self._drained: list[Drained] = []
        self._drain_lock = threading.RLock()  # the queue's order is the columns' order
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._next_heartbeat = 0.0
        self._thread = self._new_thread()

    @property
    def store(self) -> Store:
        """The store, opened now if the thread has not opened it yet (raises its error)."""
        store = self._store
        if store is not None:
            return store
        with self._open_lock:
            if self._store is None:
                assert self._opener is not None
                self._store = self._opener()
            return self._store

    def attach(self, journal: PointJournal) -> None:
        """Take points and the other kinds from ``journal`` from now on (the queues only once it
        is closed): each flush records the journal's sequence number it commits, and the
        journal's segments are deleted once committed."""
        self._drain_queues()  # queued before: drained ahead of the journal's first record
        self.journal = journal
        self._journal_seq = journal.start_seq

    def queues(self) -> tuple[collections.deque[Any], ...]:
        """The queues of ``mmap_journal.KINDS``, in that order."""
        return (self.summaries, self.configs, self.captures, self.outputs)

    def queue(self, kind: str, item: Any) -> None:
        """Queue a summary, config, capture or console item (``kind`` in
        ``mmap_journal.KINDS``): into the run's journal when it has one (its own queue once
        the journal is closed)."""
        target = self.queues()[KINDS.index(kind)]
        if self.journal is None:
            target.append(item)
        else:
            self.journal.record(kind, item, target.append)

    @property
    def created(self) -> bool:
        """Whether the run's row is in the store (always, unless ``create`` was given)."""
        return self._create is None

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._loop, name="labledger-writer", daemon=True)

    def start(self) -> None:
        self._next_heartbeat = time.time() + self.heartbeat_interval
        self._thread.start()
        compactor.watch(self)

    def stopped(self) -> bool:
        """Whether ``close`` has begun (the process's column thread lets go of the writer)."""
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def restart(self) -> None:
        """Start a new thread after the previous one died (see ``on_death``)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread = self._new_thread()
            self._thread.start()

    def _loop(self) -> None:
        try:
            if self._store is None:
                try:
                    self.store  # noqa: B018 - opens it, off the training thread
                except Exception as exc:  # the first flush reports it (and spools)
                    self.error = exc
            wait = self.flush_interval
            while not self._stop.wait(wait):
                started = time.monotonic()
                now = time.time()
                changes = None
                if now >= self._next_heartbeat:
                    changes = {"heartbeat_at": now}
                    self._next_heartbeat = now + self.heartbeat_interval
                try:
                    self.flush(raise_errors=False, changes=changes, limit=FLUSH_VALUES)
                except Exception as exc:  # a bug here must not stop the thread
                    self.error = exc
                    self.columnizer.warn_once(
                        "loop", f"labledger: background flush failed: {exc!r}"
                    )
                # Flushes start one interval apart; one that took longer means points came
                # faster than they were written: the next starts at once, so the backlog stays
                # what queues during one flush instead of growing (a failing store is retried
                # on the interval).
                elapsed = time.monotonic() - started
                wait = self.flush_interval
                if not self._failures:
                    behind = self._drained or self._unread() > DRAIN_BYTES
                    wait = 0.0 if behind else max(wait - elapsed, 0.0)
        except BaseException as exc:
            self.error = exc
            if self.on_death is not None:
                self.on_death(exc)  # the thread ends here; the run's next log() restarts it

    def close(
        self,
        changes: dict[str, Any] | None = None,
        timeout: float | None = None,
        seal: Callable[[Store, RunBatch, RunRecord | None], None] | None = None,
    ) -> None:
        """Stop the thread, then write everything still queued plus ``changes`` (the final
        status) in one batch, retrying, then spooling rather than losing it. Never raises.

        ``seal(store, batch, create)`` may add to that last batch what is computed from the
        finished record (the fingerprint): it sees the batch about to be written and, while the
        run's row is not written yet, the record that will create it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        try:
            for attempt in range(3):
                final = False
                try:
                    # A backlog (logging outran the writer) goes in bounded batches first, so
                    # the last one, and the memory it takes to decode, stays small.
                    left = self._unread()
                    while left > DRAIN_BYTES:
                        self.flush(raise_errors=True, limit=FLUSH_VALUES)
                        left, before = self._unread(), left
                        if left >= before:
                            break
                    final = True
                    self.flush(raise_errors=True, changes=changes, seal=seal)
                    return
                except Exception as exc:
                    if final:
                        changes = None  # already merged into the pending batch
                        seal = None  # a retry goes without it: the caller seals separately
                    if attempt == 2 or getattr(exc, "permanent", False):
                        self._collect_rest(changes)
                        self._to_spool(exc)
                        return
                    time.sleep(0.5 * (attempt + 1))
        finally:
            if self._spool is not None:
                self._spool.close()

    # --- draining ---------------------------------------------------------------------
    def flush(
        self,
        raise_errors: bool = True,
        changes: dict[str, Any] | None = None,
        seal: Callable[[Store, RunBatch, RunRecord | None], None] | None = None,
        limit: int | None = None,
    ) -> None:
        """Write everything queued so far in one transaction (with the run's creation, if it
        is still to be written); with ``limit``, the points of whole drains up to about that
        many values, the rest staying for the next flush. Safe to call from any thread; on
        the main thread a signal waits until the batch is written and accounted for."""
        with lifecycle.critical(), self._flush_lock:
            batch = self._collect(changes, limit)
            if not batch and self._create is None:
                return
            if self._spool is not None:  # the store failed for good: keep order, keep spooling
                self._to_spool(self.error or StoreUnavailable("store unavailable"))
                return
            try:
                try:
                    store = self.store
                except Exception as exc:
                    raise StoreUnavailable(f"cannot open the store: {exc}", permanent=True) from exc
                if seal is not None:
                    seal(store, batch, self._create)
                self._write(store, batch)
            except Exception as exc:
                self._failed(batch, exc, raise_errors)
                return
            self._pending = RunBatch()
            self._failures = 0
            if self.journal is not None and JOURNAL_SECTION in batch.captures:
                self.journal.release(batch.captures[JOURNAL_SECTION]["seq"])

    def _write(self, store: Store, batch: RunBatch) -> None:
        from labledger.errors import RunExists

        create = self._create
        if create is None:
            store.write_batch(self.run_id, batch)
            return
        together = getattr(store, "create_run_batch", None)
        try:
            if together is not None:
                together(create, batch)
                self._create = None
                return
            store.create_run(create)
        except RunExists:  # created by an earlier attempt whose answer was lost
            pass
        self._create = None
        if batch:
            store.write_batch(self.run_id, batch)

    def _failed(self, batch: RunBatch, exc: Exception, raise_errors: bool) -> None:
        """Keep the batch; spool it once the store looks gone; raise only when asked."""
        self._pending = batch
        self.error = exc
        self._failures += 1
        if not isinstance(exc, StoreUnavailable) and self._create_alone() and self._isolate(batch):
            return
        gone = getattr(exc, "permanent", False) or self._failures >= RETRIES_BEFORE_SPOOL
        if gone and not raise_errors:
            self._to_spool(exc)
            return
        if raise_errors:
            raise exc
        self.columnizer.warn_once(
            "write", f"labledger: writing run {self.run_id} failed ({exc}); will retry"
        )

    def _create_alone(self) -> bool:
        """After the run's creation failed along with its first batch: create it on its own,
        so the batch can be isolated. False when even that fails."""
        if self._create is None:
            return True
        try:
            self._write(self.store, RunBatch())
        except Exception:
            return False
        return True

    def _isolate(self, batch: RunBatch) -> bool:
        """After an unexpected write error: if the store takes a trivial write, the batch holds
        something it cannot store; write it key by key and drop the keys that still fail."""
        try:
            self.store.write_batch(self.run_id, RunBatch(changes={"heartbeat_at": time.time()}))
        except Exception:
            return False  # the store is down, not the data: retry the batch later
        metrics, batch.metrics = batch.metrics, {}
        for key, col in metrics.items():
            try:
                self.store.write_batch(self.run_id, RunBatch(metrics={key: col}))
            except Exception as exc:
                self.columnizer.drop(key, len(col.steps), f"the store refused it ({exc})")
        try:
            if batch:
                self.store.write_batch(self.run_id, batch)
        except Exception as exc:
            log.error(
                "labledger: run %s: could not store %s (%s); skipped",
                self.run_id,
                _describe(batch),
                exc,
            )
        self._pending = RunBatch()
        self._failures = 0
        return True

    def _collect(self, changes: dict[str, Any] | None, limit: int | None = None) -> RunBatch:
        batch = self._pending
        with self._drain_lock:
            self._drain_queues()
            while self._behind() and (limit is None or self._drained_values() < limit):
                self._drain_queues()
            take, total = len(self._drained), 0
            for i, (_, _, _, values) in enumerate(self._drained):
                total += values
                if limit is not None and total > limit and i:
                    take = i
                    break
            drained, self._drained = self._drained[:take], self._drained[take:]
        seqs = [seq for _, _, seq, _ in drained if seq is not None]
        if seqs:  # everything journaled up to here is in this batch
            batch.captures[JOURNAL_SECTION] = {"seq": seqs[-1]}
        columns = [columns for columns, _, _, _ in drained if columns]
        if columns:
            from labledger.sdk.columnize import merge

            batch.metrics = merge([batch.metrics, *columns])
        lines: list[OutputLine] = []
        for _, (summaries, configs, captures, outputs), _, _ in drained:
            for items, target in (
                (summaries, batch.summary),
                (captures, batch.captures),
                (configs, batch.config),
            ):
                for item in items:
                    target.update(item)
            lines.extend(outputs)
        if lines:
            batch.outputs.extend(_clean_output(lines))
        if self.columnizer.changed:
            self.columnizer.changed = False
            batch.captures["dropped"] = {
                "points": dict(self.columnizer.dropped),
                "reasons": dict(self.columnizer.drop_reasons),
            }
        if changes:
            batch.changes.update(changes)
        return batch

    def _drain_queues(self) -> None:
        """What was journaled and queued up to one instant into an entry for the next batch:
        points as columns, the other kinds as they are and, with a journal, the sequence number
        that exactly these items reach (``PointJournal.drain``, also while other threads log).
        The caller may hold the drain lock: it is re-entrant."""
        with self._drain_lock:
            queues = (self.points, *self.queues())
            seq = None
            if self.journal is None:
                taken = [_drain(queue) for queue in queues]
            else:
                now, records, counts = self.journal.drain(*queues, max_bytes=DRAIN_BYTES)
                taken = [[] for _ in queues]
                points, *kinds = taken
                for record in records:
                    if record.__class__ is not tuple or len(record) == 3:
                        points.append(record)  # a point, or a Block of them
                    else:
                        kinds[KINDS.index(record[0])].append(record[1])
                for items, queue, count in zip(taken, queues, counts, strict=True):
                    items += _take(queue, count)
                if now > self._journal_seq:
                    self._journal_seq = seq = now
            points, summaries, configs, captures, outputs = taken
            if not points and seq is None and not (summaries or configs or captures or outputs):
                return
            columns = self.columnizer.columns(points) if points else {}
            values = sum(len(c.values) for c in columns.values())
            self._drained.append((columns, (summaries, configs, captures, outputs), seq, values))

    def _collect_rest(self, changes: dict[str, Any] | None) -> None:
        """Everything not written yet into the pending batch, for the spool."""
        if changes:
            self._pending.changes.update(changes)
        with contextlib.suppress(Exception):  # a journal that cannot be read: spool the rest
            self._pending = self._collect(None)

    def _unread(self) -> int:
        """Bytes of the point journal not drained yet."""
        return self.journal.unread_bytes() if self.journal is not None else 0

    def _behind(self) -> bool:
        """Whether the last drain of the journal stopped at its size, short of the end."""
        return self.journal is not None and self.journal.behind

    def _drained_values(self) -> int:
        return sum(values for _, _, _, values in self._drained)

    def _to_spool(self, error: BaseException) -> None:
        """The store cannot take the batch: append it to the spool rather than lose it."""
        from labledger.sdk.spool import open_spool

        batch, self._pending = self._pending, RunBatch()
        if not batch and self._create is None:
            return
        self._create = None  # the spool journals the record first: delivery creates the run
        first = self._spool is None
        if first:
            self._spool = open_spool(self.settings, self.spool_dir, self.run_id, self.record)
        try:
            where = self._spool.append(batch)
        except Exception as exc:  # no space anywhere; the spool keeps what it can in memory
            log.error("labledger: run %s: spooling failed too (%s)", self.run_id, exc)
            return
        if first or where != self.spooled_to:
            self.spooled_to = where
            log.error(
                "labledger: could not write run %s (%s); unwritten data is spooled to %s "
                "(`labledger sync` delivers it)",
                self.run_id,
                error,
                where,
            )


def _describe(batch: RunBatch) -> str:
    parts = [
        name
        for name in ("summary", "captures", "outputs", "config", "changes")
        if getattr(batch, name)
    ]
    return ", ".join(parts) or "nothing"


def _clean_output(lines: list[OutputLine]) -> list[OutputLine]:
    """Console text without URL credentials or token parameters, and with NUL characters
    (PostgreSQL refuses them) made visible."""
    from labledger.capture.redact import redact_text

    cleaned = []
    for stream, when, text in lines:
        if "\x00" in text:
            text = text.replace("\x00", "\ufffd")
        if "=" in text or "@" in text:
            text = redact_text(text)
        cleaned.append((stream, when, text))
    return cleaned


def _take(queue: collections.deque[Any], count: int) -> list[Any]:
    """The first ``count`` items of ``queue`` (the writer's thread is its only consumer)."""
    popleft = queue.popleft
    return [popleft() for _ in range(count)]


def _drain(queue: collections.deque[Any]) -> list[Any]:
    items = []
    popleft = queue.popleft
    try:
        while True:
            items.append(popleft())
    except IndexError:
        return items
