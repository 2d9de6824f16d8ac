"""Project reproducibility policy: ``[policy]`` in ``labledger.toml``.

    [policy]
    require = ["clean_git", "seed", "weights"]
    on_violation = "warn"        # or "refuse"

``init`` checks what it can before a run starts (``clean_git``: no uncommitted or untracked
files; ``seed``: a seed given to ``init`` or set by ``seed_everything``) and warns, or with
``refuse`` raises ``PolicyViolation`` so no run starts. A reproduction (``reproduces=``) is
exempt from ``clean_git``: its tree carries the original's recorded changes on purpose.

At finish every required rule is checked again from the record (``weights``: an artifact of
type ``model`` was logged); a run that breaks one gets the tag ``policy-violation`` and a
``policy`` capture section listing the violations. A finished run cannot be refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from labledger.config import CONFIG_FILE, Settings
from labledger.errors import ConfigError, LabledgerError
from labledger.store.base import Store

__all__ = [
    "POLICY_SECTION",
    "RULES",
    "VIOLATION_TAG",
    "Policy",
    "PolicyViolation",
    "enforce_at_finish",
    "enforce_at_init",
    "record_violations",
]

log = logging.getLogger("labledger")

# Rule -> what it asks for (shown in messages and by ``labledger check``).
RULES: dict[str, str] = {
    "clean_git": "code committed: no uncommitted or untracked files",
    "seed": "a seed recorded (init(seed=...) or seed_everything)",
    "weights": "model weights stored as an artifact of type 'model'",
}
VIOLATION_TAG = "policy-violation"
POLICY_SECTION = "policy"


class PolicyViolation(LabledgerError):
    """A run breaks the project's ``[policy]`` and ``on_violation = "refuse"``."""


@dataclass(frozen=True)
class Policy:
    require: tuple[str, ...] = ()
    on_violation: Literal["warn", "refuse"] = "warn"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls.parse(settings.policy)

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> Policy:
        unknown_keys = set(table) - {"require", "on_violation"}
        if unknown_keys:
            raise ConfigError(
                f"[policy] in {CONFIG_FILE}: unknown key(s) {', '.join(sorted(unknown_keys))}"
            )
        require = table.get("require", [])
        if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
            raise ConfigError(f"[policy] require must be a list of rule names, got {require!r}")
        unknown = [r for r in require if r not in RULES]
        if unknown:
            raise ConfigError(
                f"[policy] require: unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}"
            )
        on_violation = table.get("on_violation", "warn")
        if on_violation not in ("warn", "refuse"):
            raise ConfigError(
                f"[policy] on_violation must be 'warn' or 'refuse', got {on_violation!r}"
            )
        return cls(tuple(dict.fromkeys(require)), on_violation)


# --- at init: before the run exists -------------------------------------------------------


def _git_status(cwd: Path) -> str | None:
    """Why the tree at ``cwd`` is not clean, or None when it is."""
    from labledger.capture.git import GitError, run_git

    try:
        out = run_git(["status", "--porcelain", "--untracked-files=normal"], cwd)
    except GitError as exc:
        return f"not a clean git checkout ({exc})"
    lines = out.decode(errors="replace").splitlines()
    if not lines:
        return None
    return f"{len(lines)} uncommitted or untracked path(s), e.g. {lines[0][3:]}"


def init_violations(
    policy: Policy, *, seed: int | None, reproduces: str | None, cwd: Path | None = None
) -> list[str]:
    from labledger.sdk.seeding import pending_seeds

    found = []
    if "clean_git" in policy.require and reproduces is None:
        why = _git_status(cwd or Path.cwd())
        if why is not None:
            found.append(f"clean_git: {why}")
    if "seed" in policy.require and seed is None and not pending_seeds():
        found.append("seed: no seed given (pass seed= to init or call seed_everything first)")
    return found


def enforce_at_init(
    settings: Settings,
    *,
    seed: int | None,
    resume: str | None = None,
    reproduces: str | None = None,
) -> list[str]:
    """Check the init-time rules for a new run: warn, or raise ``PolicyViolation``."""
    policy = Policy.from_settings(settings)
    if not policy.require or resume is not None:
        return []
    found = init_violations(policy, seed=seed, reproduces=reproduces)
    if found and policy.on_violation == "refuse":
        raise PolicyViolation(f"run refused by the project policy: {'; '.join(found)}")
    for message in found:
        log.warning("labledger: policy: %s", message)
    return found


# --- from the record: at finish and for ``labledger check`` ----------------------------------


def record_violations(policy: Policy, store: Store, run_id: str) -> list[str]:
    """Every required rule the stored run breaks, one message each."""
    captures = store.get_captures(run_id)
    found = []
    if "clean_git" in policy.require:
        git = captures.get("git", {})
        if not git.get("present"):
            found.append("clean_git: no git state recorded")
        elif git.get("dirty"):
            found.append("clean_git: the run started with uncommitted or untracked changes")
    if "seed" in policy.require and "seed" not in captures.get("seeds", {}):
        found.append("seed: no seed recorded")
    weights = "weights" in policy.require
    if weights and not any(v.type == "model" for v in store.artifacts.produced_by(run_id)):
        found.append("weights: no artifact of type 'model' was logged")
    return found


def enforce_at_finish(store: Store, run_id: str, settings: Settings) -> list[str]:
    """Mark a finished run that breaks the policy (tag and ``policy`` capture section)."""
    policy = Policy.from_settings(settings)
    if not policy.require:
        return []
    found = record_violations(policy, store, run_id)
    if not found:
        return []
    record = store.get_run(run_id)
    if VIOLATION_TAG not in record.tags:
        store.update_run(run_id, {"tags": [*record.tags, VIOLATION_TAG]})
    section = {
        "require": list(policy.require),
        "on_violation": policy.on_violation,
        "violations": found,
    }
    store.put_captures(run_id, {POLICY_SECTION: section})
    level = logging.ERROR if policy.on_violation == "refuse" else logging.WARNING
    for message in found:
        log.log(level, "labledger: run %s breaks the project policy: %s", run_id, message)
    return found
