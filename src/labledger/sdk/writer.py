"""The background writer: the only code between ``run.log`` and the store.

``run.log`` appends ``(time, step, dict)`` to a deque (no lock, no split into per-key tuples);
this thread wakes every ``flush_interval`` seconds, turns whatever has queued up into one numpy
column per key and sends it, with queued summaries, captures, console output and run-field
changes, as one ``RunBatch``: one durable transaction per flush. A batch that fails to write is
kept and retried; at shutdown, one that still cannot be written is saved to a spool file beside
the store instead of being dropped.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from labledger.store.base import MetricColumns, RunBatch, Store

log = logging.getLogger("labledger")

Point = tuple[float, int, dict[str, Any]]
_ABSENT = object()  # marks a key missing from one logged dict
OutputLine = tuple[str, float, str]


class Writer:
    """Drains what one run queues (points, summaries, captures, output, config) into a store."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        flush_interval: float = 0.05,
        heartbeat_interval: float = 5.0,
        spool_dir: Path | None = None,
        strict: bool = False,
    ) -> None:
        self.store = store
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
        self._pending = RunBatch()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._warned: set[str] = set()
        self._next_heartbeat = 0.0
        self._thread = threading.Thread(target=self._loop, name="labledger-writer", daemon=True)

    def start(self) -> None:
        self._next_heartbeat = time.time() + self.heartbeat_interval
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            now = time.time()
            changes = None
            if now >= self._next_heartbeat:
                changes = {"heartbeat_at": now}
                self._next_heartbeat = now + self.heartbeat_interval
            self.flush(raise_errors=False, changes=changes)

    def close(self, changes: dict[str, Any] | None = None, timeout: float | None = None) -> None:
        """Stop the thread, then write everything still queued plus ``changes`` (the final
        status) in one batch, retrying, then spooling to disk rather than losing it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for attempt in range(3):
            try:
                self.flush(raise_errors=True, changes=changes)
                return
            except Exception as exc:
                changes = None  # already merged into the pending batch
                if attempt == 2:
                    self._spool(exc)
                else:
                    time.sleep(0.5 * (attempt + 1))

    # --- draining ---------------------------------------------------------------------
    def flush(self, raise_errors: bool = True, changes: dict[str, Any] | None = None) -> None:
        """Write everything queued so far in one transaction. Safe to call from any thread."""
        with self._flush_lock:
            batch = self._collect(changes)
            if not batch:
                return
            try:
                self.store.write_batch(self.run_id, batch)
            except Exception as exc:
                self._pending = batch
                if raise_errors or self.strict:
                    raise
                self._warn_once(
                    "write", f"labledger: writing run {self.run_id} failed ({exc}); will retry"
                )
                return
            self._pending = RunBatch()

    def _collect(self, changes: dict[str, Any] | None) -> RunBatch:
        batch = self._pending
        points = _drain(self.points)
        if points:
            batch.metrics = _merge(batch.metrics, self._columnize(points))
        for queue, target in (
            (self.summaries, batch.summary),
            (self.captures, batch.captures),
            (self.configs, batch.config),
        ):
            for item in _drain(queue):
                target.update(item)
        batch.outputs.extend(_drain(self.outputs))
        if changes:
            batch.changes.update(changes)
        return batch

    def _columnize(self, points: list[Point]) -> dict[str, MetricColumns]:
        """One numpy column per key, built with C-level loops rather than point by point."""
        import numpy as np

        dicts = [p[2] for p in points]
        all_steps = np.fromiter((p[1] for p in points), dtype=np.int64, count=len(points))
        all_times = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        uniform = _uniform_matrix(dicts)
        if uniform is not None:
            keys, matrix = uniform
            return {
                k: MetricColumns(all_steps, matrix[:, i], all_times) for i, k in enumerate(keys)
            }
        # Mixed key sets: key by key; a key absent from some points is filtered out.
        columns: dict[str, MetricColumns] = {}
        for key in dict.fromkeys(chain.from_iterable(dicts)):
            values: list[Any] = [d.get(key, _ABSENT) for d in dicts]
            steps, times = all_steps, all_times
            present = [v is not _ABSENT for v in values]  # identity: values may be arrays
            if not all(present):
                keep = np.asarray(present, dtype=bool)
                values = [v for v in values if v is not _ABSENT]
                steps, times = steps[keep], times[keep]
            try:
                array = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                array, numeric = self._numeric(key, values)
                steps, times = steps[numeric], times[numeric]
            if array.ndim != 1:
                self._warn_once(key, f"labledger: metric {key!r} is not a scalar; skipped")
                continue
            if len(array):
                columns[key] = MetricColumns(steps, array, times)
        return columns

    def _numeric(self, key: str, values: list[Any]) -> tuple[Any, Any]:
        """Convert what converts to float; return the values and a mask of those kept."""
        import numpy as np

        converted: list[float] = []
        keep: list[bool] = []
        for value in values:
            try:
                converted.append(float(value))
                keep.append(True)
            except (TypeError, ValueError):
                keep.append(False)
        self._warn_once(
            key, f"labledger: metric {key!r} got a non-numeric value; such points are skipped"
        )
        return np.asarray(converted, dtype=np.float64), np.asarray(keep, dtype=bool)

    # --- failure handling ---------------------------------------------------------------
    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def _spool(self, error: Exception) -> None:
        """Last resort at shutdown: keep the unwritten batch on disk rather than lose it."""
        import numpy as np

        batch = self._pending
        if self.spool_dir is None:
            log.error("labledger: could not write run %s: %s", self.run_id, error)
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        stem = self.spool_dir / f"{self.run_id}-{time.time_ns()}"
        arrays: dict[str, Any] = {}
        for i, (key, col) in enumerate(batch.metrics.items()):
            arrays[f"k{i}_key"] = np.array(key)
            arrays[f"k{i}_steps"], arrays[f"k{i}_values"] = col.steps, col.values
            arrays[f"k{i}_times"] = col.times
        np.savez(stem.with_suffix(".npz"), **arrays)
        rest = {
            "summary": batch.summary,
            "captures": batch.captures,
            "outputs": batch.outputs,
            "config": batch.config,
            "changes": batch.changes,
        }
        stem.with_suffix(".json").write_text(json.dumps(rest, default=str))
        log.error(
            "labledger: could not write run %s (%s); unwritten data saved to %s.*",
            self.run_id,
            error,
            stem,
        )


def _uniform_matrix(dicts: list[dict[str, Any]]) -> tuple[list[str], Any] | None:
    """The common case, every point logging the same numeric keys: all values as one
    (points x keys) float64 matrix. None when key sets differ or a value is not a number."""
    import numpy as np

    keys = list(dicts[0])
    if not keys or set(map(len, dicts)) != {len(keys)}:
        return None
    try:
        matrix = np.array(list(map(itemgetter(*keys), dicts)), dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if matrix.ndim != (1 if len(keys) == 1 else 2):
        return None
    return keys, matrix.reshape(len(dicts), len(keys))


def _drain(queue: collections.deque[Any]) -> list[Any]:
    items = []
    popleft = queue.popleft
    try:
        while True:
            items.append(popleft())
    except IndexError:
        return items


def _merge(
    old: dict[str, MetricColumns], new: dict[str, MetricColumns]
) -> dict[str, MetricColumns]:
    if not old:
        return new
    import numpy as np

    merged = dict(old)
    for key, col in new.items():
        if key in merged:
            prev = merged[key]
            col = MetricColumns(
                np.concatenate([prev.steps, col.steps]),
                np.concatenate([prev.values, col.values]),
                np.concatenate([prev.times, col.times]),
            )
        merged[key] = col
    return merged
