"""Tamper-evident run records: a content hash over everything needed to rebuild a result.

A run's fingerprint is ``sha256:<hex>`` over the canonical JSON of six part digests:

- ``config``: the run's nested config;
- ``packages``: the package lock (every installed distribution and version, editable installs
  with their commit, the Python version);
- ``code``: commit, uncommitted diff and untracked files (and what could not be captured);
- ``data``: the artifacts and datasets the run used (name, version, type, digest);
- ``seeds``: the seeds the SDK set and the determinism settings in effect (``PYTHONHASHSEED``,
  torch's seed and deterministic switches, ``CUBLAS_WORKSPACE_CONFIG``);
- ``artifacts``: the artifacts the run produced (model weights), by digest.

``seal_run`` stores the fingerprint in ``runs.fingerprint`` and the part digests in the capture
section ``fingerprint``. The fingerprint vouches for the part digests, so when a recomputed
fingerprint no longer matches, ``verify_fingerprint`` names the parts that changed.
Metric values are not covered: they are the result, not the recipe.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from labledger.config import Settings
from labledger.entities import RunRecord
from labledger.sdk.policy import Policy, enforce_at_finish
from labledger.store.base import ArtifactVersion, RunBatch, Store

__all__ = [
    "FINGERPRINT_SECTION",
    "PARTS",
    "FingerprintCheck",
    "compute_fingerprint",
    "fingerprint_material",
    "part_digests",
    "seal_into",
    "seal_run",
    "short",
    "verify_fingerprint",
]

log = logging.getLogger("labledger")

FINGERPRINT_SECTION = "fingerprint"
PARTS = ("config", "packages", "code", "data", "seeds", "artifacts")
_VERSION = 1


def canonical_json(value: Any) -> str:
    """One byte-exact JSON text per value: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _sha256(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def short(fingerprint: str | None, length: int = 12) -> str:
    """``sha256:3fa9…`` shortened to ``length`` hex digits (``-`` when there is none)."""
    if not fingerprint:
        return "-"
    return fingerprint.removeprefix("sha256:")[:length]


def _artifact_rows(versions: list[ArtifactVersion]) -> list[dict[str, Any]]:
    rows = [
        {"name": v.name, "version": v.version, "type": v.type, "digest": v.digest} for v in versions
    ]
    return sorted(rows, key=lambda r: (r["name"], r["version"]))


def artifact_lineage(
    store: Store, run_id: str
) -> tuple[list[ArtifactVersion], list[ArtifactVersion]]:
    """(used, produced) artifact versions of a run."""
    lineage = getattr(store, "lineage", None)  # one read, on a SQL store
    if lineage is not None:
        used, produced = lineage(run_id)
        return list(used), list(produced)
    return list(store.artifacts.used_by(run_id)), list(store.artifacts.produced_by(run_id))


def _packages(environment: Mapping[str, Any]) -> dict[str, Any]:
    editable = environment.get("editable")
    commits = {}
    if isinstance(editable, Mapping):
        commits = {
            name: info.get("commit") if isinstance(info, Mapping) else None
            for name, info in editable.items()
        }
    return {
        "python": environment.get("python_version"),
        "implementation": environment.get("implementation"),
        "packages": environment.get("packages"),
        "editable": commits,
    }


def _code(git: Mapping[str, Any]) -> dict[str, Any]:
    if not git:
        return {"recorded": False}
    if not git.get("present"):
        return {"present": False}
    keys = ("commit", "diff", "diff_skipped", "untracked", "untracked_skipped")
    return {"present": True, **{key: git.get(key) for key in keys}}


def _seeds(captures: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    determinism = dict(captures.get("determinism", {}))
    return {"seeds": dict(captures.get("seeds", {})), "determinism": determinism}


def fingerprint_material(store: Store, run_id: str) -> dict[str, Any]:
    """The content each part digest covers, read from the store (no writes)."""
    record = store.get_run(run_id)
    captures = store.get_captures(record.run_id)
    used, produced = artifact_lineage(store, record.run_id)
    return {
        "config": record.config,
        "packages": _packages(captures.get("environment", {})),
        "code": _code(captures.get("git", {})),
        "data": _artifact_rows(used),
        "seeds": _seeds(captures),
        "artifacts": _artifact_rows(produced),
    }


def part_digests(material: Mapping[str, Any]) -> dict[str, str]:
    return {part: _sha256(material[part]) for part in PARTS}


def _combine(parts: Mapping[str, str]) -> str:
    return _sha256({"version": _VERSION, "parts": dict(parts)})


def compute_fingerprint(store: Store, run_id: str) -> str:
    """The fingerprint of the run as the store holds it now (a pure read)."""
    return _combine(part_digests(fingerprint_material(store, run_id)))


def seal_run(store: Store, run_id: str, settings: Settings) -> str | None:
    """At finish: apply the finish-time policy checks, then compute and store the fingerprint.

    Never raises into the user's exit path (unless ``settings.strict``); returns the
    fingerprint, or None when it could not be stored.
    """
    try:
        enforce_at_finish(store, run_id, settings)
        parts = part_digests(fingerprint_material(store, run_id))
        fingerprint = _combine(parts)
        section = {FINGERPRINT_SECTION: {"version": _VERSION, "parts": parts}}
        store.write_batch(run_id, RunBatch(captures=section, changes={"fingerprint": fingerprint}))
    except Exception as exc:  # sealing must not break the user's exit
        if settings.strict:
            raise
        log.warning("labledger: could not fingerprint run %s: %s", run_id, exc)
        return None
    return fingerprint


def _as_stored(value: Any) -> Any:
    """``value`` as the store gives it back, as far as its digest can tell: ``to_jsonable``'s
    result has string keys, finite floats and JSON types only (int and float subclasses
    print as their base type), so its canonical JSON is that of its JSON round trip
    (``tests/repro/test_fingerprint.py`` holds them equal), without the round trip."""
    from labledger.encoding import to_jsonable

    return to_jsonable(value)


def pending_material(
    store: Store, run_id: str, batch: RunBatch, create: RunRecord | None
) -> dict[str, Any]:
    """``fingerprint_material`` of the run as it will be once ``batch`` is written (and,
    with ``create``, the run created from that record in the same transaction)."""
    if create is None:
        config: dict[str, Any] = store.get_run(run_id).config
        captures = store.get_captures(run_id)
    else:
        config, captures = _as_stored(create.config), {}
    if batch.config:
        config = {**config, **_as_stored(batch.config)}
    for section, data in batch.captures.items():
        captures[section] = _as_stored(data)
    # A run still to be created has no lineage: usage and produced versions refer to its row
    # (foreign keys), and the SDK writes the row before recording either.
    used, produced = ([], []) if create is not None else artifact_lineage(store, run_id)
    return {
        "config": config,
        "packages": _packages(captures.get("environment", {})),
        "code": _code(captures.get("git", {})),
        "data": _artifact_rows(used),
        "seeds": _seeds(captures),
        "artifacts": _artifact_rows(produced),
    }


def seal_into(
    store: Store, run_id: str, settings: Settings, batch: RunBatch, create: RunRecord | None
) -> str | None:
    """Add the fingerprint to ``batch``, a run's final flush, so that the seal costs no
    transaction of its own. None (nothing added) when the project has a policy, whose marks
    ``seal_run`` applies first, or when it cannot be computed: then ``seal_run`` seals after
    the flush, as before."""
    if Policy.from_settings(settings).require:
        return None
    try:
        parts = part_digests(pending_material(store, run_id, batch, create))
    except Exception as exc:
        log.debug("labledger: sealing run %s with its last flush failed: %s", run_id, exc)
        return None
    fingerprint = _combine(parts)
    batch.captures[FINGERPRINT_SECTION] = {"version": _VERSION, "parts": parts}
    batch.changes["fingerprint"] = fingerprint
    return fingerprint


@dataclass(frozen=True)
class FingerprintCheck:
    """The stored fingerprint against one recomputed from the record now."""

    status: Literal["intact", "changed", "missing"]
    stored: str | None
    current: str
    changed_parts: tuple[str, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return self.status == "intact"


def verify_fingerprint(store: Store, run_id: str) -> FingerprintCheck:
    """Recompute the fingerprint; when it changed, name the parts that changed (if the stored
    part digests still match the stored fingerprint, else every part is suspect)."""
    record = store.get_run(run_id)
    current_parts = part_digests(fingerprint_material(store, record.run_id))
    current = _combine(current_parts)
    if record.fingerprint is None:
        return FingerprintCheck("missing", None, current)
    if record.fingerprint == current:
        return FingerprintCheck("intact", record.fingerprint, current)
    sealed = store.get_captures(record.run_id).get(FINGERPRINT_SECTION, {})
    sealed_parts = sealed.get("parts")
    if isinstance(sealed_parts, dict) and _combine(sealed_parts) == record.fingerprint:
        changed = tuple(p for p in PARTS if sealed_parts.get(p) != current_parts[p])
    else:
        changed = PARTS
    return FingerprintCheck("changed", record.fingerprint, current, changed)
