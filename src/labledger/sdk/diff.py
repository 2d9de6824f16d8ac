"""What differs between two runs: config, metrics, packages, git, host, seeds, command line.

``diff_runs(a, b)`` reads both runs once and compares them section by section; the comparison
itself (``diff_snapshots``) is a pure function of two plain ``snapshot`` dicts, so the CLI, the
UI and the reproduce/verify feature share it, and tests need no store.

Each section is a flat mapping of dotted keys to JSON values. A key present in only one run is
compared against ``MISSING`` (distinct from a recorded ``None``). Values that are always unique
to a run (its ID, pid, start time) are left out, so two runs of the same code on the same
machine differ only where something that can change a result changed.
"""

from __future__ import annotations

import hashlib
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from labledger.encoding import flatten

if TYPE_CHECKING:
    from labledger.sdk.api import RunView

__all__ = [
    "MISSING",
    "SECTION_TITLES",
    "Change",
    "DiffEntry",
    "DiffSection",
    "RunDiff",
    "diff_runs",
    "diff_snapshots",
    "snapshot",
]

SYSTEM_METRIC_PREFIX = "system/"

# Section name -> title, in display order.
SECTION_TITLES: Final[dict[str, str]] = {
    "run": "Run",
    "config": "Config",
    "metrics": "Final metrics",
    "packages": "Packages",
    "environment": "Python environment",
    "git": "Git",
    "host": "Host",
    "gpu": "GPU",
    "seeds": "Seeds",
    "determinism": "Determinism",
    "command": "Command line",
    "system": "System metrics (final)",
}

# Capture keys that identify one process rather than describe how it ran.
_VOLATILE_CAPTURE_KEYS: Final[dict[str, frozenset[str]]] = {
    "command": frozenset({"pid", "start_time", "argv", "orig_argv"}),
    "host": frozenset({"cpu_count_usable"}),
    "environment": frozenset({"packages", "editable", "installs", "indexes"}),
    "git": frozenset({"diff", "untracked", "untracked_skipped"}),
}


class _Missing:
    """The value of a key that one run does not have."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class Change(StrEnum):
    SAME = "same"
    CHANGED = "changed"
    ADDED = "added"  # only in run B
    REMOVED = "removed"  # only in run A


class DiffEntry(NamedTuple):
    """One key compared across two runs; unpacks as ``key, a, b``."""

    key: str
    a: Any
    b: Any

    @property
    def change(self) -> Change:
        if self.a is MISSING:
            return Change.SAME if self.b is MISSING else Change.ADDED
        if self.b is MISSING:
            return Change.REMOVED
        return Change.SAME if values_equal(self.a, self.b) else Change.CHANGED

    @property
    def differs(self) -> bool:
        return self.change is not Change.SAME

    @property
    def delta(self) -> float | None:
        """``b - a`` when both values are (non-boolean) numbers, else None."""
        a, b = self.a, self.b
        if _is_number(a) and _is_number(b):
            return float(b) - float(a)
        return None


@dataclass(frozen=True)
class DiffSection:
    """One section's entries. ``absent_in`` names the run (``"a"``/``"b"``) that did not record
    the section at all (e.g. capture was off), so its entries are all added or removed."""

    name: str
    entries: tuple[DiffEntry, ...]
    absent_in: Literal["a", "b"] | None = None

    @property
    def title(self) -> str:
        return SECTION_TITLES.get(self.name, self.name.replace("_", " ").capitalize())

    @property
    def differences(self) -> tuple[DiffEntry, ...]:
        return tuple(e for e in self.entries if e.differs)

    def get(self, key: str) -> DiffEntry | None:
        return next((e for e in self.entries if e.key == key), None)


@dataclass(frozen=True)
class RunDiff:
    """Two runs compared section by section (sections in ``SECTION_TITLES`` order)."""

    a_id: str
    b_id: str
    sections: tuple[DiffSection, ...]

    def section(self, name: str) -> DiffSection:
        for section in self.sections:
            if section.name == name:
                return section
        return DiffSection(name, ())

    @property
    def differences(self) -> dict[str, tuple[DiffEntry, ...]]:
        """Only the differing entries, by section name (sections without any are left out)."""
        return {s.name: s.differences for s in self.sections if s.differences}

    def only_differences(self) -> RunDiff:
        sections = tuple(DiffSection(s.name, s.differences, s.absent_in) for s in self.sections)
        return RunDiff(self.a_id, self.b_id, tuple(s for s in sections if s.entries))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; a missing value is ``null`` and ``change`` says which side lacks it."""
        return {
            "a": self.a_id,
            "b": self.b_id,
            "absent": {s.name: s.absent_in for s in self.sections if s.absent_in},
            "sections": {
                s.name: [
                    {
                        "key": e.key,
                        "a": None if e.a is MISSING else e.a,
                        "b": None if e.b is MISSING else e.b,
                        "change": str(e.change),
                    }
                    for e in s.entries
                ]
                for s in self.sections
            },
        }


def values_equal(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- reading a run into plain sections ------------------------------------------------------


def snapshot(run: RunView) -> dict[str, dict[str, Any]]:
    """Everything ``diff_runs`` compares, read from the store once: ``{section: {key: value}}``."""
    record = run.record
    metrics = record.final_metrics()
    captures = run.captures()
    sections: dict[str, dict[str, Any]] = {
        "run": {
            "project": record.project,
            "group": record.group,
            "tags": sorted(record.tags),
            "status": str(record.status),
            "exit_code": record.exit_code,
            "runtime": record.runtime,
        },
        "config": dict(sorted(flatten(record.config).items())),
        "metrics": {
            k: v for k, v in sorted(metrics.items()) if not k.startswith(SYSTEM_METRIC_PREFIX)
        },
    }
    environment = captures.get("environment", {})
    packages = environment.get("packages")
    if isinstance(packages, Mapping):
        sections["packages"] = dict(sorted(packages.items()))
    if environment:
        sections["environment"] = _environment(environment)
    if "git" in captures:
        sections["git"] = _git(captures["git"])
    for name in ("host", "gpu", "seeds", "determinism"):
        if name in captures:
            sections[name] = _plain(name, captures[name])
    if "command" in captures:
        sections["command"] = _command(captures["command"])
    sections["system"] = {
        k: v for k, v in sorted(metrics.items()) if k.startswith(SYSTEM_METRIC_PREFIX)
    }
    return sections


def _plain(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    skip = _VOLATILE_CAPTURE_KEYS.get(name, frozenset())
    kept = {k: _expand_lists(v) for k, v in data.items() if k not in skip}
    return flatten(kept)


def _expand_lists(value: Any) -> Any:
    """Lists of dicts (GPU devices) become ``{"0": {...}, "1": {...}}`` so flatten reaches in."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return {str(i): _expand_lists(v) for i, v in enumerate(value)}
    if isinstance(value, Mapping):
        return {k: _expand_lists(v) for k, v in value.items()}
    return value


def _environment(data: Mapping[str, Any]) -> dict[str, Any]:
    result = _plain("environment", data)
    editable = data.get("editable")
    if isinstance(editable, Mapping):
        for name, info in sorted(editable.items()):
            commit = info.get("commit") if isinstance(info, Mapping) else None
            result[f"editable.{name}.commit"] = commit
    return result


def _git(data: Mapping[str, Any]) -> dict[str, Any]:
    result = _plain("git", data)
    if not data.get("present", True):
        return result
    diff = data.get("diff")
    if isinstance(diff, str):
        result["diff_digest"] = _digest(diff) if diff else None
        result["diff_lines"] = diff.count("\n")
    untracked = data.get("untracked")
    if isinstance(untracked, Mapping):
        result["untracked_files"] = len(untracked)
        listing = "".join(f"{k}\0{v}\0" for k, v in sorted(untracked.items()))
        result["untracked_digest"] = _digest(listing) if untracked else None
    return result


def _command(data: Mapping[str, Any]) -> dict[str, Any]:
    result = _plain("command", data)
    argv = data.get("orig_argv") or data.get("argv")
    if isinstance(argv, list):
        result = {"command": shlex.join(str(a) for a in argv), **result}
    return result


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --- comparing --------------------------------------------------------------------------------


def diff_snapshots(
    a: Mapping[str, Mapping[str, Any]],
    b: Mapping[str, Mapping[str, Any]],
    a_id: str = "a",
    b_id: str = "b",
) -> RunDiff:
    """Compare two ``snapshot`` results key by key, keeping both sides' key order."""
    order = [name for name in SECTION_TITLES if name in a or name in b]
    order += [name for name in _merge(list(a), list(b)) if name not in SECTION_TITLES]
    sections = []
    for name in order:
        left, right = a.get(name, {}), b.get(name, {})
        entries = tuple(
            DiffEntry(key, left.get(key, MISSING), right.get(key, MISSING))
            for key in _merge(list(left), list(right))
        )
        absent: Literal["a", "b"] | None = None
        if name not in a or name not in b:
            absent = "a" if name not in a else "b"
        sections.append(DiffSection(name, entries, absent))
    return RunDiff(a_id, b_id, tuple(sections))


def _merge(a: list[str], b: list[str]) -> list[str]:
    """Keys of both lists: sorted when both sides are sorted (config, packages), else ``a``'s
    order followed by the keys only ``b`` has (capture sections keep their natural layout)."""
    if a == sorted(a) and b == sorted(b):
        return sorted({*a, *b})
    return list(dict.fromkeys([*a, *b]))


def diff_runs(a: RunView, b: RunView) -> RunDiff:
    """Everything recorded about runs ``a`` and ``b``, compared; ``.only_differences()`` trims
    it to what differs."""
    return diff_snapshots(snapshot(a), snapshot(b), a.id, b.id)
