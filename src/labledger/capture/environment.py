"""Environment probe: the Python interpreter and every installed distribution.

Installed packages rarely change while a program runs, so the result is computed once per process.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import threading
from pathlib import Path
from typing import Any

from labledger.capture.git import GitError, run_git

_lock = threading.Lock()
_cached: dict[str, Any] | None = None


def normalize_name(name: str) -> str:
    """A distribution name in PEP 503 normal form: ``Foo_Bar.baz`` becomes ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _editable_path(direct_url: str | None) -> Path | None:
    """The source folder of an editable install, from its ``direct_url.json`` (PEP 610)."""
    if not direct_url:
        return None
    try:
        data = json.loads(direct_url)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    dir_info = data.get("dir_info")
    url = data.get("url")
    if not isinstance(dir_info, dict) or not dir_info.get("editable") or not isinstance(url, str):
        return None
    if not url.startswith("file:"):
        return None
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    return Path(url2pathname(urlparse(url).path))


def _commit_of(path: Path) -> str | None:
    try:
        out = run_git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], path)
    except GitError:
        return None
    return out.decode(errors="replace").strip() or None


def _distributions() -> tuple[dict[str, str], dict[str, dict[str, str | None]]]:
    from importlib import metadata

    packages: dict[str, str] = {}
    editable: dict[str, dict[str, str | None]] = {}
    # Distributions come in sys.path order; the first of a name is the one Python imports.
    for dist in metadata.distributions():
        raw_name = dist.metadata["Name"] if dist.metadata else None
        if not raw_name:
            continue
        name = normalize_name(str(raw_name))
        if name in packages:
            continue
        packages[name] = str(dist.version)
        path = _editable_path(dist.read_text("direct_url.json"))
        if path is not None:
            editable[name] = {"path": str(path), "commit": _commit_of(path)}
    return dict(sorted(packages.items())), dict(sorted(editable.items()))


def _compute() -> dict[str, Any]:
    import platform

    packages, editable = _distributions()
    return {
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "in_venv": sys.prefix != sys.base_prefix,
        "packages": packages,
        "editable": editable,
    }


def capture_environment() -> dict[str, Any]:
    """The interpreter and installed distributions (computed on the first call, then copied)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _compute()
        return copy.deepcopy(_cached)
