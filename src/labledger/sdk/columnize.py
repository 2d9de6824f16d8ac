"""The writer's fast path from logged dicts to one numpy column per key.

A flush holds thousands of ``(time, step, dict)`` points. When every dict logs the same keys
(the usual training loop) all values go into one ``keys x points`` matrix in a single C-level
pass; when a few key sets alternate (``loss`` every step, ``val/*`` every N steps) each set
is done that way and the columns merged back in logged order. Anything else (many distinct
key sets, invalid names, values that are not numbers, None) returns None: the writer's
key-by-key path handles it and reports what it skips. ``merge`` joins the columns of several
drains (the points compacted while the store opened, a failed batch kept for its retry).
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from labledger.store.base import MetricColumns

MAX_KEY_SETS = 8  # distinct key sets in one flush the grouped path takes on
STEP, TIME, DATA = itemgetter(1), itemgetter(0), itemgetter(2)


def fast_columns(
    dicts: list[dict[str, Any]],
    steps: Any,
    times: Any,
    valid: Any,
) -> dict[str, MetricColumns] | None:
    """Columns of ``dicts`` (``steps``/``times`` of each, as arrays), or None when the
    key-by-key path is needed. ``valid(key)`` tells whether ``key`` can be stored."""
    whole = uniform(dicts, valid)
    if whole is not None:
        keys, values = whole
        return {k: MetricColumns(steps, values[i], times) for i, k in enumerate(keys)}
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, keyset in enumerate(map(tuple, dicts)):
        rows = groups.get(keyset)
        if rows is None:
            if len(groups) == MAX_KEY_SETS:
                return None
            rows = groups[keyset] = []
        rows.append(i)
    if len(groups) == 1 and () not in groups:
        return None  # one key set that ``uniform`` refused: a value or a name is not storable
    groups.pop((), None)  # log({}): nothing to store
    parts: dict[str, list[tuple[Any, Any]]] = {}
    for rows in groups.values():
        part = uniform([dicts[i] for i in rows], valid)
        if part is None:
            return None
        index = np.asarray(rows, dtype=np.int64)
        for i, key in enumerate(part[0]):
            parts.setdefault(key, []).append((index, part[1][i]))
    columns = {}
    for key, pieces in parts.items():
        if len(pieces) == 1:
            index, values = pieces[0]
        else:
            index = np.concatenate([p[0] for p in pieces])
            order = np.argsort(index, kind="stable")  # back to logged order
            index = index[order]
            values = np.concatenate([p[1] for p in pieces])[order]
        columns[key] = MetricColumns(steps[index], values, times[index])
    return columns


def uniform(dicts: list[dict[str, Any]], valid: Any) -> tuple[list[str], Any] | None:
    """Every dict has the same keys (in any order) with numeric values: the keys and a
    contiguous ``keys x points`` float64 matrix. None otherwise, and when a None became NaN
    (the key-by-key path warns about it)."""
    keys = list(dicts[0])
    k, n = len(keys), len(dicts)
    if not k or set(map(len, dicts)) != {k} or not all(map(valid, keys)):
        return None
    get = itemgetter(*keys)
    try:
        if k == 1:
            flat = np.fromiter(map(get, dicts), dtype=np.float64, count=n)
        else:
            flat = np.fromiter(chain.from_iterable(map(get, dicts)), dtype=np.float64, count=n * k)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if np.isnan(flat).any() and any(None in vs for vs in map(list, map(dict.values, dicts))):
        return None
    return keys, np.ascontiguousarray(flat.reshape(n, k).T)


def merge(parts: list[dict[str, MetricColumns]]) -> dict[str, MetricColumns]:
    """Columns of several drains, in order: one concatenation per key, and keys that shared
    their steps and times in every drain share the joined ones (as the store's rollups of
    keys logged together expect)."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return parts[0] if parts else {}
    pieces: dict[str, list[MetricColumns]] = {}
    for part in parts:
        for key, col in part.items():
            pieces.setdefault(key, []).append(col)
    joined: dict[tuple[int, ...], Any] = {}

    def join(arrays: list[Any]) -> Any:
        ident = tuple(map(id, arrays))  # the parts keep every array alive meanwhile
        if ident not in joined:
            joined[ident] = np.concatenate(arrays)
        return joined[ident]

    return {
        key: cols[0]
        if len(cols) == 1
        else MetricColumns(
            join([c.steps for c in cols]),
            np.concatenate([c.values for c in cols]),
            join([c.times for c in cols]),
        )
        for key, cols in pieces.items()
    }
