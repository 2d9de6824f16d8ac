"""The background writer: the only code between ``run.log`` and the store.

``run.log`` appends ``(time, step, dict)`` to a deque (no lock, no split into per-key tuples);
this thread wakes every ``flush_interval`` seconds, turns whatever has queued up into one numpy
column per key and hands the batch to ``Store.write_metrics`` in one durable transaction.
A batch that fails to write is kept and retried; at shutdown, one that still cannot be written
is saved to a spool file beside the store instead of being dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from labledger.store.base import MetricColumns, Store

log = logging.getLogger("labledger")

Point = tuple[float, int, dict[str, Any]]
OutputLine = tuple[str, float, str]


class Writer:
    """Drains queued points, summaries and console output of one run into a store."""

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
        self.tasks: collections.deque[Callable[[], None]] = collections.deque()
        self.flush_interval = max(flush_interval, 0.001)
        self.heartbeat_interval = heartbeat_interval
        self.spool_dir = spool_dir
        self.strict = strict
        self.points_written = 0
        self._pending: dict[str, MetricColumns] | None = None
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="labledger-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        next_heartbeat = 0.0
        while not self._stop.wait(self.flush_interval):
            self.flush(raise_errors=False)
            now = time.time()
            if now >= next_heartbeat:
                self._guard("heartbeat", self.store.update_run, self.run_id, {"heartbeat_at": now})
                next_heartbeat = now + self.heartbeat_interval

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread, then write everything still queued (retrying, then spooling)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for attempt in range(3):
            try:
                self.flush(raise_errors=True)
                return
            except Exception as exc:
                if attempt == 2:
                    self._spool(exc)
                else:
                    time.sleep(0.5 * (attempt + 1))

    # --- draining ---------------------------------------------------------------------
    def flush(self, raise_errors: bool = True) -> None:
        """Write everything queued so far. Safe to call from any thread."""
        with self._flush_lock:
            try:
                self._flush_points()
                self._flush_side_channels()
            except Exception as exc:
                if raise_errors or self.strict:
                    raise
                self._warn_once(
                    "write", f"labledger: writing run {self.run_id} failed ({exc}); will retry"
                )

    def _flush_points(self) -> None:
        drained = _drain(self.points)
        if drained:
            columns = self._columnize(drained)
            self._pending = _merge(self._pending, columns) if self._pending else columns
        if self._pending:
            self.store.write_metrics(self.run_id, self._pending)
            self.points_written += sum(len(c.steps) for c in self._pending.values())
            self._pending = None

    def _flush_side_channels(self) -> None:
        self._flush_merged(self.summaries, self.store.set_summary)
        self._flush_merged(self.captures, self.store.put_captures)
        lines = _drain(self.outputs)
        if lines:
            try:
                self.store.append_output(self.run_id, lines)
            except Exception:
                self.outputs.extendleft(reversed(lines))
                raise
        while self.tasks:
            task = self.tasks[0]
            task()
            self.tasks.popleft()

    def _flush_merged(
        self, queue: collections.deque[dict[str, Any]], write: Callable[[str, Any], None]
    ) -> None:
        """Write queued dict updates as one merged update (later keys win)."""
        items = _drain(queue)
        if not items:
            return
        merged: dict[str, Any] = {}
        for item in items:
            merged.update(item)
        try:
            write(self.run_id, merged)
        except Exception:
            queue.appendleft(merged)
            raise

    def _columnize(self, points: list[Point]) -> dict[str, MetricColumns]:
        import numpy as np

        raw: dict[str, tuple[list[int], list[Any], list[float]]] = {}
        for ts, step, data in points:
            for key, value in data.items():
                column = raw.get(key)
                if column is None:
                    column = raw[key] = ([], [], [])
                column[0].append(step)
                column[1].append(value)
                column[2].append(ts)
        columns: dict[str, MetricColumns] = {}
        for key, (steps, values, times) in raw.items():
            try:
                array = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                array, keep = self._numeric(key, values)
                steps = [s for s, k in zip(steps, keep, strict=True) if k]
                times = [t for t, k in zip(times, keep, strict=True) if k]
            if array.ndim != 1 or not len(array):
                if array.ndim != 1:
                    self._warn_once(key, f"labledger: metric {key!r} is not a scalar; skipped")
                continue
            columns[key] = MetricColumns(
                np.asarray(steps, dtype=np.int64), array, np.asarray(times, dtype=np.float64)
            )
        return columns

    def _numeric(self, key: str, values: list[Any]) -> tuple[Any, list[bool]]:
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
        return np.asarray(converted, dtype=np.float64), keep

    # --- failure handling ---------------------------------------------------------------
    def _guard(self, what: str, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except Exception as exc:
            if self.strict:
                raise
            self._warn_once(what, f"labledger: {what} failed for run {self.run_id}: {exc}")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def _spool(self, error: Exception) -> None:
        """Last resort at shutdown: keep unwritten points on disk rather than lose them."""
        import numpy as np

        pending = self._pending or {}
        if not pending or self.spool_dir is None:
            log.error("labledger: could not write run %s: %s", self.run_id, error)
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{self.run_id}-{time.time_ns()}.npz"
        arrays: dict[str, Any] = {}
        for i, (key, col) in enumerate(pending.items()):
            arrays[f"k{i}_key"] = np.array(key)
            arrays[f"k{i}_steps"], arrays[f"k{i}_values"] = col.steps, col.values
            arrays[f"k{i}_times"] = col.times
        np.savez(path, **arrays)
        log.error(
            "labledger: could not write run %s (%s); points saved to %s", self.run_id, error, path
        )


def _drain(queue: collections.deque[Any]) -> list[Any]:
    items = []
    popleft = queue.popleft
    try:
        while True:
            items.append(popleft())
    except IndexError:
        return items


def _merge(
    old: Mapping[str, MetricColumns], new: Mapping[str, MetricColumns]
) -> dict[str, MetricColumns]:
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
