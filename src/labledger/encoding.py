"""JSON-safe conversion and flattening of user-supplied values (configs, summaries)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

JSONValue = Any


def to_jsonable(value: Any, path: str = "", problems: list[str] | None = None) -> JSONValue:
    """Convert ``value`` into plain JSON types.

    Numpy/torch scalars become Python numbers, tuples and sets become lists, dataclasses and
    namespaces become dicts, non-finite floats become the strings ``"nan"``/``"inf"``/``"-inf"``
    and anything else becomes its ``repr``; each such fallback is appended to ``problems``.
    """
    if problems is None:
        return _plain(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _join(path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, f"{path}[{i}]", problems) for i, v in enumerate(items)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return to_jsonable(fields, path, problems)
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            return to_jsonable(item(), path, problems)
        except (TypeError, ValueError, RuntimeError):
            pass
    if hasattr(value, "__fspath__"):
        return str(value)
    if problems is not None:
        problems.append(f"{path or '<root>'}: {type(value).__name__} stored as its repr")
    return repr(value)


def _plain(value: Any) -> JSONValue:
    """``to_jsonable`` without the bookkeeping of where each value is (no ``problems`` to
    report to), with exact builtin types first: captures hold thousands of values per run."""
    kind = value.__class__
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if k.__class__ is str else str(k): _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is float and math.isfinite(value):
        return value
    return to_jsonable(value, "", [])  # everything else, as above (the problems dropped)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys: ``{"opt": {"lr": 1}}`` → ``{"opt.lr": 1}``.

    Lists stay values. An empty mapping stays as a value so no key is lost.
    """
    return dict(_walk(config, prefix))


def _walk(config: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        full = _join(prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _walk(value, full)
        else:
            yield full, value
