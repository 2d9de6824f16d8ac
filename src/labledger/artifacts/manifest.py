"""Manifests: the list of files in an artifact, and the digest that identifies its content.

A manifest is a list of plain dicts sorted by ``path`` (relative, POSIX):

- stored files and local references: ``{"path", "digest", "size"}`` (``digest`` is SHA-256);
- S3 references: ``{"path", "etag", "size"}``;
- an artifact logged from a single file has one entry, marked ``"kind": "file"``, so that
  downloading it gives back a file rather than a folder.

The content digest of a single file is its SHA-256, so the same bytes give the same version
whatever the file is called. A folder's digest is the SHA-256 of its canonical manifest (paths,
digests, sizes). A reference's digest also covers its URI: the same bytes at another location
are another reference. Empty folders are not recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labledger.artifacts.hashing import FileStat, HashCache, hash_file
from labledger.artifacts.names import validate_manifest_path
from labledger.errors import ArtifactError

Entry = dict[str, Any]


@dataclass
class LocalScan:
    """A local file or folder, hashed: its manifest and where each entry's bytes live."""

    root: Path
    entries: list[Entry]
    sources: dict[str, tuple[Path, FileStat]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(int(e["size"]) for e in self.entries)


def is_single_file(manifest: Sequence[Entry]) -> bool:
    return len(manifest) == 1 and manifest[0].get("kind") == "file"


def _canonical_digest(document: Any) -> str:
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _fingerprint(entry: Entry) -> list[Any]:
    return [entry["path"], entry.get("digest") or entry.get("etag"), int(entry["size"])]


def _fingerprints(manifest: Sequence[Entry]) -> list[list[Any]]:
    return sorted(_fingerprint(e) for e in manifest)


def content_digest(manifest: Sequence[Entry]) -> str:
    """The digest of a stored artifact: a file's SHA-256, or a folder's manifest digest."""
    if is_single_file(manifest) and manifest[0].get("digest"):
        return str(manifest[0]["digest"])
    return _canonical_digest({"files": _fingerprints(manifest)})


def reference_digest(uri: str, manifest: Sequence[Entry]) -> str:
    """The digest of a reference: its URI, and every file's path, checksum and size."""
    kind = "file" if is_single_file(manifest) else "folder"
    files = _fingerprints(manifest)
    return _canonical_digest({"reference": uri, "kind": kind, "files": files})


def _walk(root: Path, follow_symlinks: bool = False) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    inside = root.resolve()

    def fail(exc: OSError) -> None:
        raise ArtifactError(f"cannot read folder {exc.filename}: {exc.strerror or exc}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        here = Path(dirpath)
        for dirname in dirnames:
            if (here / dirname).is_symlink():
                raise ArtifactError(
                    f"{here / dirname} is a symlink to a folder; log its target instead"
                )
        dirnames.sort()
        for filename in sorted(filenames):
            full = here / filename
            rel = full.relative_to(root).as_posix()
            if not follow_symlinks and full.is_symlink():
                target = full.resolve()
                if not target.is_relative_to(inside):
                    raise ArtifactError(
                        f"{full} is a symlink to {target}, outside the folder logged; "
                        "pass follow_symlinks=True to copy what it points to"
                    )
            found.append((validate_manifest_path(rel), full))
    return sorted(found)


def scan_local(
    path: Path, cache: HashCache | None = None, *, follow_symlinks: bool = False
) -> LocalScan:
    """Hash a file or folder into a manifest. Symlinks to files inside a folder are followed;
    one pointing outside it is refused unless ``follow_symlinks``."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ArtifactError(f"cannot log {path}: {exc.strerror or exc}") from exc
    if stat_module.S_ISREG(mode):
        files = [(validate_manifest_path(path.name), path)]
    elif stat_module.S_ISDIR(mode):
        files = _walk(path, follow_symlinks)
    else:
        raise ArtifactError(f"cannot log {path}: not a regular file or folder")

    scan = LocalScan(root=path, entries=[])
    try:
        for rel, full in files:
            if not full.is_file():
                raise ArtifactError(f"cannot log {full}: not a regular file")
            digest, stat = hash_file(full, cache)
            scan.entries.append({"path": rel, "digest": digest, "size": stat.size})
            scan.sources[rel] = (full, stat)
    finally:
        if cache is not None:
            cache.flush()
    if stat_module.S_ISREG(mode):
        scan.entries[0]["kind"] = "file"
    return scan


def validate_manifest(manifest: Sequence[Entry]) -> None:
    """Refuse a manifest (from a store we did not write, perhaps) with unsafe or clashing paths."""
    paths: set[str] = set()
    for entry in manifest:
        path = validate_manifest_path(entry.get("path"))  # type: ignore[arg-type]
        if path in paths:
            raise ArtifactError(f"invalid artifact manifest: {path!r} appears twice")
        paths.add(path)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in paths:
                raise ArtifactError(
                    f"invalid artifact manifest: {parent!r} is both a file and a folder"
                )


def diff_manifests(expected: Sequence[Entry], actual: Sequence[Entry]) -> list[str]:
    """Human-readable differences between two manifests, sorted by path."""
    old = {e["path"]: e for e in expected}
    new = {e["path"]: e for e in actual}
    problems: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if after is None:
            problems.append(f"missing: {path}")
        elif before is None:
            problems.append(f"added: {path}")
        elif int(before["size"]) != int(after["size"]):
            problems.append(f"changed: {path} (size {before['size']} -> {after['size']})")
        elif _fingerprint(before)[1] != _fingerprint(after)[1]:
            problems.append(f"changed: {path} (checksum differs)")
    return problems
