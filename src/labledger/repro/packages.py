"""How each recorded package is installed again: the requirement line for pip/uv, by kind.

- ``registry``: ``name==version`` from the configured indexes (and the recorded ones);
- ``labledger``: labledger itself, from the running labledger's own source or version, so the
  rerun records into the store;
- ``worktree``: an editable (or folder) install of the reproduced project: from the worktree;
- ``clone``: an editable install of another repository: cloned at its recorded commit, from its
  recorded folder when that still holds the commit, else from its recorded remote;
- ``folder``: an editable install not under git: from its folder as it is now (said so);
- ``vcs``: ``name @ git+URL@commit``; ``archive``: the recorded wheel or sdist file or URL.

Records made before install kinds were captured only list ``editable``; they are read the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CloneSource",
    "PackageSource",
    "lock_key",
    "own_requirement",
    "resolve_sources",
]

Kind = Literal["registry", "labledger", "worktree", "clone", "folder", "vcs", "archive"]
# Installed per reproduction on top of the shared environment (their paths differ each time).
LOCAL_KINDS = frozenset({"worktree", "clone"})
LABLEDGER = "labledger"


@dataclass(frozen=True)
class CloneSource:
    """A repository to clone at ``commit`` into ``dest`` before installing from it."""

    url: str
    commit: str
    dest: Path
    fallback_url: str | None = None  # tried when ``url`` does not hold the commit


@dataclass(frozen=True)
class PackageSource:
    name: str
    version: str
    kind: Kind
    requirement: str  # one line for ``pip install -r`` / ``uv pip install -r``
    note: str | None = None
    clone: CloneSource | None = None

    @property
    def local(self) -> bool:
        return self.kind in LOCAL_KINDS


def _labledger_root() -> Path | None:
    """The source checkout the running labledger is imported from, if it is one."""
    import labledger

    package = Path(labledger.__file__).resolve().parent
    for root in (package.parent.parent, package.parent):  # src layout, then flat
        pyproject = root / "pyproject.toml"
        try:
            text = pyproject.read_text()
        except OSError:
            continue
        if 'name = "labledger"' in text:
            return root
    return None


def own_requirement() -> tuple[str, str]:
    """The requirement that installs the running labledger, and where it comes from."""
    root = _labledger_root()
    if root is not None:  # built from a copy (environment.py), so the checkout stays clean
        return str(root), f"the running labledger's source ({root})"
    from importlib import metadata

    import labledger

    try:
        direct = metadata.distribution(LABLEDGER).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        try:
            url = json.loads(direct).get("url")
        except ValueError:
            url = None
        if isinstance(url, str) and "archive_info" in direct:
            return f"labledger @ {url}", f"the running labledger's wheel ({url})"
    version = labledger.__version__
    return f"labledger=={version}", f"labledger {version}, the running version"


def _under(path: str, root: str | None) -> str | None:
    if not root:
        return None
    try:
        relative = Path(path).relative_to(root)
    except ValueError:
        return None
    return str(relative) if str(relative) else "."


def _installs(environment: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    installs = {k: dict(v) for k, v in (environment.get("installs") or {}).items()}
    for name, info in (environment.get("editable") or {}).items():
        if name not in installs and isinstance(info, Mapping) and info.get("path"):
            installs[name] = {"kind": "editable", **info}
    return installs


def _vcs_line(name: str, info: Mapping[str, Any]) -> str:
    url = str(info["url"])
    vcs = str(info.get("vcs") or "git")
    ref = info.get("commit") or info.get("requested")
    line = f"{name} @ {url if url.startswith(vcs + '+') else vcs + '+' + url}"
    line += f"@{ref}" if ref else ""
    subdirectory = info.get("subdirectory")
    return line + (f"#subdirectory={subdirectory}" if subdirectory else "")


def _source(
    name: str,
    version: str,
    info: Mapping[str, Any] | None,
    repo: str | None,
    code_dir: Path,
    deps_dir: Path,
    exists: Callable[[Path], bool],
) -> PackageSource:
    pinned = f"{name}=={version}"
    if info is None:
        return PackageSource(name, version, "registry", pinned)
    kind = info.get("kind")
    if kind in ("editable", "directory"):
        flag = "-e " if kind == "editable" else ""
        path = str(info["path"])
        relative = _under(path, repo)
        if relative is not None:
            return PackageSource(name, version, "worktree", f"{flag}{code_dir / relative}")
        commit = info.get("commit")
        source_repo, remote = info.get("repo"), info.get("remote_url")
        if commit and (source_repo or remote):
            dest = deps_dir / name
            subdirectory = str(info.get("subdirectory") or ".")
            url = str(source_repo if source_repo and exists(Path(source_repo)) else remote or "")
            if url:
                fallback = str(remote) if remote and url != remote else None
                clone = CloneSource(url, str(commit), dest, fallback)
                note = f"{name}: rebuilt from {url} at its recorded commit {str(commit)[:12]}"
                target = dest / subdirectory if subdirectory != "." else dest
                return PackageSource(name, version, "clone", f"{flag}{target}", note, clone)
        if exists(Path(path)):
            note = (
                f"{name} was an install of {path}, which is not under git: it is installed "
                "from that folder as it is now"
            )
            return PackageSource(name, version, "folder", f"{flag}{path}", note)
        note = (
            f"{name} was an install of {path}, which is gone: "
            f"installing {pinned} from the index instead"
        )
        return PackageSource(name, version, "registry", pinned, note)
    if kind == "vcs" and info.get("url"):
        return PackageSource(name, version, "vcs", _vcs_line(name, info))
    if kind == "archive" and info.get("url"):
        url = str(info["url"])
        local = url.removeprefix("file://") if url.startswith("file://") else None
        if local is None or exists(Path(local)):
            return PackageSource(name, version, "archive", f"{name} @ {url}")
        note = f"{name} came from {url}, which is gone: installing {pinned} from the index instead"
        return PackageSource(name, version, "registry", pinned, note)
    return PackageSource(name, version, "registry", pinned)


def resolve_sources(
    environment: Mapping[str, Any],
    repo: str | None,
    code_dir: Path,
    deps_dir: Path,
    *,
    skip: Sequence[str] = (),
    exists: Callable[[Path], bool] = Path.exists,
) -> tuple[list[PackageSource], list[str]]:
    """One source per recorded package (labledger always included), and notes; ``skip`` names
    packages left out on request."""
    from labledger.capture.environment import normalize_name

    packages: dict[str, str] = dict(environment.get("packages") or {})
    installs = _installs(environment)
    skipped = {normalize_name(n) for n in skip}
    sources: list[PackageSource] = []
    notes: list[str] = []
    for name in sorted(skipped & set(packages)):
        notes.append(f"{name}=={packages[name]} left out (--skip-package)")
    for name in sorted(skipped - set(packages)):
        notes.append(f"--skip-package {name}: no such package in the record")
    for name, version in sorted(packages.items()):
        if name in skipped or name == LABLEDGER:
            continue
        source = _source(name, version, installs.get(name), repo, code_dir, deps_dir, exists)
        sources.append(source)
        if source.note:
            notes.append(source.note)
    if LABLEDGER not in skipped:
        line, origin = own_requirement()
        recorded = packages.get(LABLEDGER)
        note = f"labledger from {origin}" + (f" (recorded {recorded})" if recorded else "")
        sources.append(PackageSource(LABLEDGER, recorded or "", "labledger", line, note))
    return sources, notes


def lock_key(sources: Sequence[PackageSource], python: str, indexes: Sequence[str]) -> str:
    """The cache key of the environment the non-local sources make."""
    lines = sorted(s.requirement for s in sources if not s.local)
    payload = json.dumps({"python": python, "lines": lines, "indexes": list(indexes)})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
