"""``labledger check RUN``: can this run's result be rebuilt from its record?

Each item passes, warns or fails, and says how to fix it. Requirements in the project's
``[policy]`` turn the matching warnings into failures (``clean_git``: uncommitted changes;
``weights``: no model artifact).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labledger.config import Settings
from labledger.entities import RunStatus
from labledger.sdk.api import RunView
from labledger.sdk.artifacts import Artifacts
from labledger.sdk.fingerprint import artifact_lineage, short, verify_fingerprint
from labledger.sdk.policy import Policy
from labledger.store.base import ArtifactVersion, Store

__all__ = ["CheckItem", "CheckReport", "check_run"]

Status = Literal["pass", "warn", "fail"]
CUBLAS_FIX = "export CUBLAS_WORKSPACE_CONFIG=:4096:8 before starting the run"


@dataclass(frozen=True)
class CheckItem:
    name: str
    status: Status
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class CheckReport:
    run_id: str
    items: tuple[CheckItem, ...]

    @property
    def verdict(self) -> Status:
        statuses = {item.status for item in self.items}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"

    @property
    def ok(self) -> bool:
        return self.verdict != "fail"

    def count(self, status: Status) -> int:
        return sum(item.status == status for item in self.items)


def _code(git: Mapping[str, Any], strict: bool) -> CheckItem:
    name = "code"
    if not git:
        return CheckItem(
            name,
            "fail",
            "no git state recorded",
            "run with capture on (the default) inside a git repository",
        )
    if "error" in git:
        return CheckItem(
            name,
            "fail",
            f"the record is incomplete: the git capture failed ({git['error']})",
            "make sure git works in the project folder (a slow machine: start training after "
            "labledger.init returns), then rerun",
        )
    if not git.get("present"):
        return CheckItem(
            name,
            "fail",
            "the run was not started inside a git repository",
            "put the project under git and commit the code",
        )
    commit = git.get("commit")
    if not commit:
        return CheckItem(name, "fail", "the repository had no commit", "commit the code")
    where = f"commit {str(commit)[:12]}" + (f" ({git['branch']})" if git.get("branch") else "")
    local = "" if git.get("remote_url") else "; no remote recorded: the commit may be local only"
    if git.get("diff") is None:
        why = git.get("diff_skipped", "not recorded")
        return CheckItem(
            name,
            "fail",
            f"{where}; uncommitted changes not captured: {why}",
            "commit the changes (keep large data files out of git)",
        )
    skipped = dict(git.get("untracked_skipped") or {})
    unlisted = int(git.get("untracked_skipped_unlisted") or 0)
    if skipped or unlisted:
        first = next(iter(skipped.items()), ("", ""))
        example = f", e.g. {first[0]} ({first[1]})" if first[0] else ""
        return CheckItem(
            name,
            "fail" if strict else "warn",
            f"{where}; {len(skipped) + unlisted} untracked file(s) not captured{example}{local}",
            "commit them, add outputs to .gitignore, or record data with run.use_dataset()",
        )
    if git.get("dirty"):
        lines = str(git.get("diff") or "").count("\n")
        untracked = len(git.get("untracked") or {})
        return CheckItem(
            name,
            "fail" if strict else "warn",
            f"{where} with uncommitted changes, captured ({lines} diff lines, "
            f"{untracked} untracked files){local}",
            "commit the changes before a result is shared",
        )
    return CheckItem(name, "pass", f"{where}, clean{local}")


def _packages(environment: Mapping[str, Any]) -> CheckItem:
    name = "packages"
    packages = environment.get("packages") or {}
    if not packages:
        why = environment.get("error", "not recorded")
        return CheckItem(
            name, "fail", f"installed packages unknown ({why})", "run with capture on (the default)"
        )
    editable = dict(environment.get("editable") or {})
    untracked = sorted(
        n for n, info in editable.items() if not isinstance(info, Mapping) or not info.get("commit")
    )
    message = f"{len(packages)} packages recorded with their versions"
    if untracked:
        return CheckItem(
            name,
            "warn",
            f"{message}; editable install(s) not under git: {', '.join(untracked)}",
            "put editable dependencies under git so their code is recorded by commit",
        )
    return CheckItem(name, "pass", message + (f", {len(editable)} editable" if editable else ""))


SEED_KEYS = frozenset({"seed", "random_state", "random_seed", "rng_seed", "manual_seed"})
SEED_VARIABLES = ("SEED", "RANDOM_SEED", "GLOBAL_SEED")
# torch seeds itself from the OS (a 64-bit number) unless told: a small one was set.
TORCH_DEFAULT_SEED_FLOOR = 2**32


def _config_seeds(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found += _config_seeds(value, name + ".")
        elif str(key).lower() in SEED_KEYS and isinstance(value, int) and value is not True:
            found.append(f"config {name} {value}")
    return found


def observed_seeds(
    config: Mapping[str, Any], determinism: Mapping[str, Any], command: Mapping[str, Any]
) -> list[str]:
    """Seeds the record shows were set without the SDK: torch's initial seed when it is not
    torch's own random one, seed parameters in the config, seed variables in the environment."""
    found = []
    torch = determinism.get("torch")
    initial = torch.get("initial_seed") if isinstance(torch, Mapping) else None
    if isinstance(initial, int) and initial < TORCH_DEFAULT_SEED_FLOOR:
        found.append(f"torch.initial_seed {initial}")
    found += _config_seeds(config)
    env = command.get("env") or {}
    found += [f"${name}={env[name]}" for name in SEED_VARIABLES if name in env]
    return found


def _seeds(
    seeds: Mapping[str, Any],
    determinism: Mapping[str, Any],
    observed: list[str],
    matching: Callable[[], str | None],
) -> CheckItem:
    name = "seeds"
    fix = "pass seed= to ll.init, or call ll.seed_everything(seed) before ll.init"
    if "seed" not in seeds:
        if observed:
            return CheckItem(name, "pass", f"seeds observed: {', '.join(observed)}")
        matched_by = matching()
        if matched_by:
            return CheckItem(
                name, "pass", f"no seed recorded, but reproduction {matched_by} matched the run"
            )
        return CheckItem(name, "fail", "no seed recorded, and nothing observed pins it", fix)
    torch = determinism.get("torch")
    in_use = {"python_random": "random"}
    if "numpy_version" in determinism:
        in_use["numpy"] = "numpy"
    if isinstance(torch, Mapping):
        in_use["torch"] = "torch"
        if torch.get("cuda_available"):
            in_use["torch_cuda"] = "torch CUDA"
    unseeded = [label for key, label in in_use.items() if key not in seeds]
    seeded = [label for key, label in in_use.items() if key in seeds]
    matched_by = matching() if unseeded else None
    if unseeded and not matched_by:
        return CheckItem(
            name, "fail", f"seed {seeds['seed']}, but not seeded: {', '.join(unseeded)}", fix
        )
    hashseed = (
        " and PYTHONHASHSEED for child processes" if "PYTHONHASHSEED_exported" in seeds else ""
    )
    matched = f"; reproduction {matched_by} matched" if unseeded and matched_by else ""
    return CheckItem(
        name, "pass", f"seed {seeds['seed']}: {', '.join(seeded)} seeded{hashseed}{matched}"
    )


def _matching_reproduction(run: RunView, store: Store) -> str | None:
    """A finished reproduction of ``run`` whose metrics match it, if any."""
    from labledger.repro.verify import verify_runs

    reruns = [r for r in store.search_runs(run.project, None, ["-created_at"], 50)
              if r.reproduces == run.id and r.status is RunStatus.FINISHED]  # fmt: skip
    for record in reruns[:5]:
        if verify_runs(run, RunView(record, store), store, curves=False).reproduced:
            return record.run_id
    return None


def _refs(versions: list[ArtifactVersion]) -> str:
    shown = ", ".join(f"{v.ref} ({v.digest[:12]})" for v in versions[:4])
    return shown + (f" and {len(versions) - 4} more" if len(versions) > 4 else "")


def _data(used: list[ArtifactVersion], verify: Callable[[str], list[str]]) -> CheckItem:
    """Inputs are re-checked: a referenced file or prefix must still hold what was recorded.
    Data that cannot be verified any more never passes."""
    if not used:
        return CheckItem(
            "data",
            "warn",
            "no data inputs fingerprinted",
            "record inputs with run.use_dataset(path) or run.use_artifact(name)",
        )
    missing: list[str] = []
    changed: list[str] = []
    for version in used:
        try:
            problems = verify(version.ref)
        except Exception as exc:  # unreachable storage, bad manifest: cannot verify
            problems = [f"missing: {exc}"]
        if problems:
            bucket = missing if all(p.startswith("missing") for p in problems) else changed
            bucket.append(f"{version.ref} ({problems[0]})")
    if changed:
        return CheckItem(
            "data",
            "fail",
            f"{len(changed)} of {len(used)} input(s) changed since the run: {'; '.join(changed)}",
            "restore the recorded data, or log data with run.log_artifact to keep a copy",
        )
    if missing:
        return CheckItem(
            "data",
            "warn",
            f"{len(missing)} of {len(used)} input(s) cannot be verified any more: "
            + "; ".join(missing),
            "keep referenced data in place, or log it with run.log_artifact to store a copy",
        )
    return CheckItem("data", "pass", f"{len(used)} input(s) verified unchanged: {_refs(used)}")


def _weights(produced: list[ArtifactVersion], strict: bool) -> CheckItem:
    models = [v for v in produced if v.type == "model"]
    if not models:
        return CheckItem(
            "weights",
            "fail" if strict else "warn",
            "no model weights stored as an artifact",
            "run.log_artifact('model.pt', type='model') at the end of training",
        )
    return CheckItem("weights", "pass", f"model weights stored: {_refs(models)}")


def _determinism(determinism: Mapping[str, Any]) -> CheckItem:
    name = "determinism"
    if not determinism or "error" in determinism:
        return CheckItem(
            name, "warn", "determinism settings not recorded", "run with capture on (the default)"
        )
    torch = determinism.get("torch")
    if not isinstance(torch, Mapping):
        return CheckItem(name, "pass", "no nondeterministic settings noticed (torch not in use)")
    problems, fixes = [], []
    if not torch.get("deterministic_algorithms"):
        problems.append("torch deterministic algorithms off")
        fixes.append("ll.seed_everything(seed, deterministic_torch=True)")
    if torch.get("cudnn_benchmark"):
        problems.append("cudnn.benchmark on")
        fixes.append("torch.backends.cudnn.benchmark = False")
    if torch.get("cuda_available") and not determinism.get("cublas_workspace_config"):
        problems.append("CUBLAS_WORKSPACE_CONFIG unset while CUDA is used")
        fixes.append(CUBLAS_FIX)
    if problems:
        return CheckItem(name, "warn", "; ".join(problems), "; ".join(fixes))
    return CheckItem(name, "pass", "torch runs with deterministic algorithms")


def _fingerprint(store: Store, run: RunView) -> CheckItem:
    name = "fingerprint"
    result = verify_fingerprint(store, run.id)
    if result.status == "intact":
        return CheckItem(name, "pass", f"fingerprint {short(result.stored)} intact")
    if result.status == "missing":
        if run.status is RunStatus.RUNNING:
            return CheckItem(name, "warn", "no fingerprint yet: the run is still running")
        return CheckItem(
            name,
            "warn",
            f"no fingerprint: the run ended {run.status} without finishing through labledger",
            "rerun the training to completion",
        )
    return CheckItem(
        name,
        "fail",
        f"the record changed after the run finished ({', '.join(result.changed_parts)}): "
        f"stored {short(result.stored)}, now {short(result.current)}",
        "treat this record as altered; rerun, or restore the original record",
    )


def _completeness(dropped: Mapping[str, Any]) -> CheckItem:
    points = dropped.get("points", {})
    if not points:
        return CheckItem("record", "pass", "every logged point was stored")
    keys = ", ".join(f"{k} ({n})" for k, n in sorted(points.items()))
    return CheckItem(
        "record",
        "warn",
        f"{sum(points.values())} logged point(s) were dropped: {keys}",
        "see the reasons under 'dropped' in `labledger runs show`",
    )


def check_run(run: RunView, store: Store, settings: Settings) -> CheckReport:
    """The reproducibility checklist for ``run`` (read-only)."""
    policy = Policy.from_settings(settings)
    captures = run.captures()
    git = captures.get("git", {})
    determinism = captures.get("determinism", {})
    used, produced = artifact_lineage(store, run.id)
    items = (
        _code(git, strict="clean_git" in policy.require),
        _packages(captures.get("environment", {})),
        _seeds(
            captures.get("seeds", {}),
            determinism,
            observed_seeds(run.config, determinism, captures.get("command", {})),
            lambda: _matching_reproduction(run, store),
        ),
        _data(used, Artifacts(store, settings).verify),
        _weights(produced, strict="weights" in policy.require),
        _determinism(determinism),
        _fingerprint(store, run),
        _completeness(captures.get("dropped", {})),
    )
    return CheckReport(run.id, items)
