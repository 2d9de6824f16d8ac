"""Recently charted series kept in memory, so redrawing or zooming a long series does not
re-read and re-concatenate a million points from the store.

An entry is valid while the store's point count for the key (from the run's metric summary)
equals the entry's length; when a live run has logged more, only the points after the last
cached step are read and appended.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from labledger.entities import MetricSeries
from labledger.store.base import Store

DEFAULT_MAX_POINTS = 4_000_000  # about 100 MB of steps, values and times


@dataclass
class _Entry:
    series: MetricSeries
    ordered: bool  # steps strictly increasing: ranges by binary search, appends by step


def _is_ordered(steps: Any) -> bool:
    return bool(len(steps) < 2 or np.all(steps[1:] > steps[:-1]))


class SeriesCache:
    """Least recently used full series (with times), bounded by total points."""

    def __init__(self, store: Store, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self._store = store
        self._max_points = max_points
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    def read(
        self, run_id: str, key: str, count: int, start: int | None = None, end: int | None = None
    ) -> MetricSeries:
        """The points of ``key`` with ``start <= step <= end``; ``count`` is the number of
        points the store holds now (``MetricSummary.count``)."""
        if count > self._max_points:
            return self._store.read_metric(run_id, key, start=start, end=end)
        entry = self._entry(run_id, key, count)
        return _select(entry, start, end)

    def _entry(self, run_id: str, key: str, count: int) -> _Entry:
        with self._lock:
            entry = self._entries.get((run_id, key))
            if entry is not None:
                self._entries.move_to_end((run_id, key))
        if entry is not None and len(entry.series) >= count:
            return entry
        series: MetricSeries | None = None
        if entry is not None and entry.ordered and len(entry.series):
            last = int(entry.series.steps[-1])
            new = self._store.read_metric(run_id, key, start=last + 1)
            if len(entry.series) + len(new) >= count and _is_ordered(new.steps):
                old = entry.series
                series = MetricSeries(
                    key,
                    np.concatenate([old.steps, new.steps]),
                    np.concatenate([old.values, new.values]),
                    np.concatenate([old.times, new.times]),
                )
        if series is None:
            series = self._store.read_metric(run_id, key)
        fresh = _Entry(series, _is_ordered(series.steps))
        self._put((run_id, key), fresh)
        return fresh

    def _put(self, name: tuple[str, str], entry: _Entry) -> None:
        with self._lock:
            previous = self._entries.pop(name, None)
            if previous is not None:
                self._points -= len(previous.series)
            self._entries[name] = entry
            self._points += len(entry.series)
            while self._points > self._max_points and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._points -= len(dropped.series)


def _select(entry: _Entry, start: int | None, end: int | None) -> MetricSeries:
    series = entry.series
    if start is None and end is None:
        return series
    if entry.ordered:
        lo = 0 if start is None else int(np.searchsorted(series.steps, start, side="left"))
        hi = len(series) if end is None else int(np.searchsorted(series.steps, end, side="right"))
        part: Any = slice(lo, hi)
    else:
        part = np.ones(len(series), dtype=bool)
        if start is not None:
            part &= series.steps >= start
        if end is not None:
            part &= series.steps <= end
    return MetricSeries(series.key, series.steps[part], series.values[part], series.times[part])
