"""Artifact names, aliases, references (``NAME[:VERSION|ALIAS]``) and manifest paths.

Everything a user or a (possibly remote, possibly tampered) store hands us is validated here
before it becomes part of a file system path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labledger.errors import ArtifactError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,99}$")
VERSION_PATTERN = re.compile(r"^v?(\d{1,9})$")
LATEST = "latest"
MAX_PATH_LENGTH = 4096


@dataclass(frozen=True)
class ArtifactRef:
    """A parsed ``NAME[:SELECTOR]``; ``selector`` is ``vN``, an alias, or None for latest."""

    name: str
    selector: str | None = None

    def __str__(self) -> str:
        return self.name if self.selector is None else f"{self.name}:{self.selector}"


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ArtifactError(
            f"invalid artifact name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
        raise ArtifactError(
            f"invalid alias {alias!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    if VERSION_PATTERN.match(alias):
        raise ArtifactError(f"invalid alias {alias!r}: it would read as a version number")
    return alias


def parse_ref(ref: str) -> ArtifactRef:
    """``name``, ``name:v3``, ``name:3`` or ``name:production`` → a validated ArtifactRef."""
    if not isinstance(ref, str) or not ref:
        raise ArtifactError("artifact reference is empty: expected NAME[:VERSION|ALIAS]")
    name, sep, selector = ref.partition(":")
    validate_name(name)
    if not sep:
        return ArtifactRef(name)
    if not selector:
        raise ArtifactError(f"artifact reference {ref!r} has an empty version after ':'")
    number = VERSION_PATTERN.match(selector)
    if number:
        return ArtifactRef(name, f"v{int(number.group(1))}")
    if not ALIAS_PATTERN.match(selector):
        raise ArtifactError(f"artifact reference {ref!r}: {selector!r} is neither vN nor an alias")
    return ArtifactRef(name, selector)


def version_number(selector: str) -> int | None:
    """The N of ``vN`` (or ``N``); None when ``selector`` is an alias."""
    number = VERSION_PATTERN.match(selector)
    return int(number.group(1)) if number else None


def sanitize_name(raw: str) -> str:
    """A valid artifact name derived from a file name or URI basename (``my data.csv`` →
    ``my-data.csv``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", raw)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:128].rstrip("-")
    return cleaned or "artifact"


def default_name(path_or_uri: str) -> str:
    """The default artifact name for a path or URI: its last component, sanitized."""
    text = path_or_uri.rstrip("/")
    if "://" in text:
        text = text.split("://", 1)[1]
    return sanitize_name(PurePosixPath(text).name or text)


def validate_manifest_path(path: str) -> str:
    """A manifest path must be relative, POSIX, normalized, and free of ``..``, NUL and ``\\``."""
    if not isinstance(path, str) or not path:
        raise ArtifactError(f"invalid path in artifact: {path!r} is empty")
    if "\x00" in path:
        raise ArtifactError(f"invalid path in artifact: {path!r} contains a NUL byte")
    if "\\" in path:
        raise ArtifactError(f"invalid path in artifact: {path!r} contains a backslash")
    if len(path) > MAX_PATH_LENGTH:
        raise ArtifactError(f"invalid path in artifact: {path[:60]!r}... is too long")
    if path.startswith("/"):
        raise ArtifactError(f"invalid path in artifact: {path!r} is absolute")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArtifactError(
            f"invalid path in artifact: {path!r} has an empty, '.' or '..' component"
        )
    return path


def safe_join(root: Path, path: str) -> Path:
    """``root / path`` after validating ``path``; never resolves outside ``root``."""
    target = root.joinpath(*validate_manifest_path(path).split("/"))
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        raise ArtifactError(f"invalid path in artifact: {path!r} leaves the destination folder")
    return target
