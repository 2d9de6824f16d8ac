"""Logged points into one numpy column per key, for the writer's batches.

The usual training loop logs the same keys step after step: those go through
``columnize.fast_columns`` (C-level loops) and the journal's ``Block``s are columns already.
Anything else goes key by key: a key absent from some points is filtered out, and what
cannot be stored (a bad name, a value that is not a number, None) is dropped, counted and
warned about once per key, for the run's record (``dropped``, ``drop_reasons``).
"""

from __future__ import annotations

import logging
import math
from itertools import chain
from typing import Any

from labledger.store.base import MetricColumns

log = logging.getLogger("labledger")

Point = tuple[float, int, dict[str, Any]]
MAX_KEY_LENGTH = 250  # the store's metric key column
_ABSENT = object()  # marks a key missing from one logged dict


def key_problem(key: Any) -> str | None:
    """Why ``key`` cannot be a metric name, or None when it can."""
    if not isinstance(key, str):
        return f"metric names must be strings, not {type(key).__name__}"
    if not key:
        return "metric names must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"metric names are at most {MAX_KEY_LENGTH} characters"
    if "\x00" in key:
        return "metric names must not contain NUL characters"
    return None


def _valid_key(key: Any) -> bool:
    return key_problem(key) is None


class Columnizer:
    """One run's points into columns; what it skips is counted by key, with the reason."""

    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}  # metric key (repr for non-strings) -> points skipped
        self.drop_reasons: dict[str, str] = {}
        self.changed = False  # ``dropped`` changed since the writer last recorded it
        self._warned: set[str] = set()

    def columns(self, points: list[Any]) -> dict[str, MetricColumns]:
        """Columns of points and of the journal's ``Block``s of them, in their order."""
        if all(point.__class__ is tuple for point in points):
            return self._safely(points)
        from labledger.sdk.columnize import merge
        from labledger.sdk.journal_decode import Block

        parts: list[dict[str, MetricColumns]] = []
        run: list[Point] = []
        for point in points:
            if point.__class__ is not Block:
                run.append(point)
                continue
            if run:
                parts.append(self._safely(run))
                run = []
            if all(map(_valid_key, point.values)):
                parts.append(
                    {k: MetricColumns(point.steps, v, point.times) for k, v in point.values.items()}
                )
            else:  # the key-by-key path says what it drops, and why
                parts.append(self._safely(point.points()))
        if run:
            parts.append(self._safely(run))
        return merge(parts)

    def _safely(self, points: list[Point]) -> dict[str, MetricColumns]:
        try:
            return self.columnize(points)
        except Exception:  # should not happen; never lose the flush to one bad point
            parts: list[dict[str, MetricColumns]] = []
            for point in points:
                try:
                    parts.append(self.columnize([point]))
                except Exception as exc:
                    for key in point[2]:
                        self.drop(key, 1, f"it could not be converted ({exc!r})")
            from labledger.sdk.columnize import merge

            return merge(parts)

    def columnize(self, points: list[Point]) -> dict[str, MetricColumns]:
        """One numpy column per key, built with C-level loops rather than point by point."""
        import numpy as np

        from labledger.sdk import columnize

        n = len(points)
        all_steps = np.fromiter(map(columnize.STEP, points), dtype=np.int64, count=n)
        all_times = np.fromiter(map(columnize.TIME, points), dtype=np.float64, count=n)
        dicts = list(map(columnize.DATA, points))
        fast = columnize.fast_columns(dicts, all_steps, all_times, _valid_key)
        if fast is not None:
            return fast
        return self._by_key(dicts, all_steps, all_times)

    def _by_key(
        self, dicts: list[dict[str, Any]], all_steps: Any, all_times: Any
    ) -> dict[str, MetricColumns]:
        """Key by key (many key sets, odd values): a key absent from some points is filtered
        out, what cannot be stored is dropped with its reason."""
        import numpy as np

        columns: dict[str, MetricColumns] = {}
        for key in dict.fromkeys(chain.from_iterable(dicts)):
            values: list[Any] = [d.get(key, _ABSENT) for d in dicts]
            steps, times = all_steps, all_times
            present = [v is not _ABSENT for v in values]  # identity: values may be arrays
            if not all(present):
                keep = np.asarray(present, dtype=bool)
                values = [v for v in values if v is not _ABSENT]
                steps, times = steps[keep], times[keep]
            problem = key_problem(key)
            if problem is not None:
                self.drop(key, len(values), problem)
                continue
            try:
                if any(v is None for v in values):
                    raise TypeError("None")
                array = np.asarray(values, dtype=np.float64)
            except Exception:
                array, numeric = self._numeric(key, values)
                steps, times = steps[numeric], times[numeric]
            if array.ndim != 1:
                self.drop(key, len(values), "the value is not a scalar")
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
            if value is None:
                self.warn_once(f"none:{key}", f"labledger: metric {key!r} got None; stored as NaN")
                converted.append(math.nan)
                keep.append(True)
                continue
            try:
                converted.append(float(value))
                keep.append(True)
            except OverflowError:
                keep.append(False)
                self.drop(key, 1, "a value is too large for float64")
            except Exception:
                keep.append(False)
                self.drop(key, 1, f"a {type(value).__name__} value is non-numeric")
        return np.asarray(converted, dtype=np.float64), np.asarray(keep, dtype=bool)

    def drop(self, key: Any, count: int, reason: str) -> None:
        """Count ``count`` points of ``key`` as skipped; warn once per key with the reason."""
        name = key if isinstance(key, str) else repr(key)
        self.dropped[name] = self.dropped.get(name, 0) + count
        self.drop_reasons.setdefault(name, reason)
        self.changed = True
        self.warn_once(f"drop:{name}", f"labledger: metric {name!r}: {reason}; point skipped")

    def warn_once(self, key: str, message: str) -> None:
        """Log ``message`` the first time ``key`` is seen."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)
