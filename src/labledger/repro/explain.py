"""Which recorded differences between two runs could explain different results, most likely first.

The comparison itself is ``sdk.diff.diff_runs`` (shared with ``labledger runs diff``); this
module sorts its differences into causes and ranks them. The ranking is a judgement about how
often each kind of difference changes a number, from most to least:

    seeds > config > data > code > packages > determinism settings > Python > hardware > command

Paths are not causes: a reproduction runs from another folder, so the repository root, the
interpreter path and the working directory differ by design and are left out.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labledger.sdk.api import RunView
from labledger.sdk.diff import MISSING, DiffEntry, diff_runs
from labledger.sdk.fingerprint import artifact_lineage
from labledger.store.base import Store

__all__ = ["CATEGORIES", "Cause", "explain"]

# Category -> title, in ranking order.
CATEGORIES: dict[str, str] = {
    "seeds": "Seeds",
    "config": "Config",
    "data": "Data inputs",
    "code": "Code",
    "packages": "Packages",
    "determinism": "Determinism settings",
    "python": "Python",
    "hardware": "Hardware",
    "command": "Command line",
}
_GIT_KEYS = ("commit", "diff_digest", "untracked_digest", "diff_skipped", "present")
_DETERMINISM_SEED_KEYS = ("pythonhashseed", "torch.initial_seed")
_MAX_DETAILS = 8


@dataclass(frozen=True)
class Cause:
    """One kind of recorded difference, with the differing values."""

    category: str
    details: tuple[str, ...]

    @property
    def title(self) -> str:
        return CATEGORIES.get(self.category, self.category)

    @property
    def rank(self) -> int:
        return list(CATEGORIES).index(self.category)


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _line(entry: DiffEntry) -> str:
    return f"{entry.key}: {_show(entry.a)} → {_show(entry.b)}"


def _is_seed_key(key: str) -> bool:
    return "seed" in key.rsplit(".", 1)[-1].lower()


def _artifacts(rows: Iterable[Any]) -> dict[str, str]:
    return {f"{v.name} ({v.type})": v.digest for v in rows}


def _data_lines(a: RunView, b: RunView, store: Store) -> list[str]:
    used_a = _artifacts(artifact_lineage(store, a.id)[0])
    used_b = _artifacts(artifact_lineage(store, b.id)[0])
    lines = []
    for name in sorted(set(used_a) | set(used_b)):
        da, db = used_a.get(name), used_b.get(name)
        if da != db:
            lines.append(f"{name}: {(da or '(not used)')[:19]} → {(db or '(not used)')[:19]}")
    return lines


def _normalized_command(run: RunView) -> str | None:
    captures = run.captures()
    argv = captures.get("command", {}).get("orig_argv") or captures.get("command", {}).get("argv")
    if not isinstance(argv, list):
        return None
    root = str(captures.get("git", {}).get("root") or "")
    args = [str(x) for x in argv[1:]]
    if root:
        args = [x.replace(root.rstrip("/") + "/", "").replace(root, ".") for x in args]
    return shlex.join(args)


def _sort(sections: Mapping[str, tuple[DiffEntry, ...]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in CATEGORIES}
    for entry in sections.get("seeds", ()):
        found["seeds"].append(_line(entry))
    for entry in sections.get("config", ()):
        found["seeds" if _is_seed_key(entry.key) else "config"].append(_line(entry))
    for entry in sections.get("git", ()):
        if entry.key in _GIT_KEYS:
            found["code"].append(_line(entry))
    for entry in sections.get("packages", ()):
        found["packages"].append(_line(entry))
    for entry in sections.get("environment", ()):
        if entry.key.startswith("editable.") and entry.key.endswith(".commit"):
            found["packages"].append(_line(entry))
        elif entry.key in ("python_version", "implementation"):
            found["python"].append(_line(entry))
    for entry in sections.get("determinism", ()):
        seedlike = entry.key in _DETERMINISM_SEED_KEYS
        found["seeds" if seedlike else "determinism"].append(_line(entry))
    for name in ("gpu", "host"):
        for entry in sections.get(name, ()):
            if entry.key not in ("hostname", "username"):
                found["hardware"].append(f"{name}.{_line(entry)}")
    for entry in sections.get("command", ()):
        if entry.key.startswith("env.") and not entry.key.startswith("env.LABLEDGER_"):
            found["command"].append(_line(entry))
    return found


def explain(a: RunView, b: RunView, store: Store) -> list[Cause]:
    """The recorded differences between ``a`` and ``b`` that could change a result, ranked
    (``store`` holds both runs; their artifact lineage is read from it)."""
    differences = diff_runs(a, b).differences
    found = _sort(differences)
    found["data"] = _data_lines(a, b, store)
    command_a, command_b = _normalized_command(a), _normalized_command(b)
    if command_a != command_b:
        found["command"].insert(0, f"command: {_show(command_a)} → {_show(command_b)}")
    return [Cause(category, _trim(lines)) for category, lines in found.items() if lines]


def _trim(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= _MAX_DETAILS:
        return tuple(lines)
    return (*lines[:_MAX_DETAILS], f"… and {len(lines) - _MAX_DETAILS} more")
