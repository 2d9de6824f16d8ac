"""Environment probe: the Python interpreter and every installed distribution, with how each was
installed, so a reproduction can install it the same way.

Kinds (``installs``, only for distributions that did not come from an index by version):
``editable`` (a folder installed with ``-e``: its path, and when under git its repository root,
subdirectory, commit and remote), ``directory`` (a folder installed without ``-e``), ``vcs``
(``pkg @ git+URL@commit``) and ``archive`` (a wheel or sdist file or URL). Every other
distribution came from an index by version; the configured indexes are in ``indexes``
(credentials stripped). Installed packages rarely change while a program runs, so the result is
kept per process and reused while ``sys.path``, the distribution metadata in its folders (an
install or removal adds or removes a ``*.dist-info``; other files written there do not count),
the git state of editable installs and pip's configuration files and variables are unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labledger.capture.git import GitError, run_git
from labledger.capture.probe import copy_plain, keep, kept_file, load_kept
from labledger.capture.redact import strip_url_credentials

__all__ = ["capture_environment", "install_sources", "normalize_name"]

_lock = threading.Lock()
_cached: dict[str, Any] | None = None
_cached_key: tuple[Any, ...] | None = None
RACY_SECONDS = 2.0  # a folder changed this close to the capture is not trusted to show it


def normalize_name(name: str) -> str:
    """A distribution name in PEP 503 normal form: ``Foo_Bar.baz`` becomes ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _file_path(url: str) -> Path | None:
    if not url.startswith("file:"):
        return None
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    return Path(url2pathname(urlparse(url).path))


def _direct_url(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def _editable_path(direct_url: str | None) -> Path | None:
    """The source folder of an editable install, from its ``direct_url.json`` (PEP 610)."""
    data = _direct_url(direct_url)
    if data is None:
        return None
    dir_info = data.get("dir_info")
    if not isinstance(dir_info, dict) or not dir_info.get("editable"):
        return None
    return _file_path(data["url"])


def _git_source(path: Path) -> dict[str, str | None]:
    """Commit, repository root, subdirectory and remote of a source folder under git."""
    try:
        out = run_git(["rev-parse", "--show-toplevel", "HEAD"], path).decode(errors="replace")
    except GitError:
        return {"commit": None}
    lines = out.strip().splitlines()
    if len(lines) < 2:
        return {"commit": None}
    root = Path(lines[0])
    try:
        subdir = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        subdir = "."
    try:
        remote: str | None = (
            run_git(["config", "--get", "remote.origin.url"], root).decode().strip()
        )
    except GitError:
        remote = None
    return {
        "commit": lines[1],
        "repo": str(root),
        "subdirectory": subdir,
        "remote_url": strip_url_credentials(remote) if remote else None,
    }


def _install_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """What ``direct_url.json`` says about how a distribution was installed."""
    url = strip_url_credentials(str(data["url"]))
    subdirectory = data.get("subdirectory")
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        return {
            "kind": "vcs",
            "url": url,
            "vcs": vcs.get("vcs", "git"),
            "commit": vcs.get("commit_id"),
            "requested": vcs.get("requested_revision"),
            "subdirectory": subdirectory,
        }
    dir_info = data.get("dir_info")
    if isinstance(dir_info, dict):
        path = _file_path(str(data["url"]))
        if path is None:
            return None
        kind = "editable" if dir_info.get("editable") else "directory"
        return {"kind": kind, "path": str(path), **_git_source(path)}
    if isinstance(data.get("archive_info"), dict):
        info = data["archive_info"]
        return {"kind": "archive", "url": url, "hash": info.get("hash") or info.get("hashes")}
    return None


def _distributions() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    from importlib import metadata

    packages: dict[str, str] = {}
    installs: dict[str, dict[str, Any]] = {}
    # Distributions come in sys.path order; the first of a name is the one Python imports.
    for dist in metadata.distributions():
        raw_name, version = _name_version(dist)
        if not raw_name:
            continue
        name = normalize_name(str(raw_name))
        if name in packages:
            continue
        packages[name] = str(version)
        data = _direct_url(dist.read_text("direct_url.json"))
        install = _install_of(data) if data is not None else None
        if install is not None:
            installs[name] = install
    return dict(sorted(packages.items())), dict(sorted(installs.items()))


def _name_version(dist: Any) -> tuple[str | None, str | None]:
    """Name and version from the metadata file's headers, read directly: ``dist.metadata``
    parses the whole file with the email package, ~1 ms per distribution."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    name = version = None
    for line in (text or "").splitlines():
        if not line.strip():
            break  # end of the headers
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
        if name is not None and version is not None:
            return name, version
    if not text:
        return None, None
    meta = dist.metadata  # unusual layout: the full parser decides
    return (meta["Name"] if meta else None), str(dist.version)


def _stat(path: str | Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _git_head_files(repo: str) -> list[str]:
    """The files whose change means a repository's HEAD commit may have changed. Not the
    ``.git`` folder itself: git rewrites its index there (``git status``, ``git add``)."""
    dot_git = git = Path(repo) / ".git"
    pointer: list[str] = []
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
            pointer = [str(dot_git)]
        head = (git / "HEAD").read_text(errors="replace").strip()
    except (OSError, IndexError):
        return [str(dot_git), str(git)]
    files = [*pointer, str(git / "HEAD"), str(git / "packed-refs")]
    common = git
    if (git / "commondir").is_file():
        with contextlib.suppress(OSError):
            common = (git / (git / "commondir").read_text().strip()).resolve()
        files.append(str(common / "packed-refs"))
    if head.startswith("ref: "):
        files += [str(git / head[5:]), str(common / head[5:])]
    return files


def _key(result: dict[str, Any] | None) -> tuple[Any, ...]:
    """What the environment capture depends on, as stats (see the module docstring): ``sys.path``,
    pip's variables, the watched paths, their stats, and for each ``sys.path`` folder the
    distribution metadata in it (``_metadata_entries``)."""
    paths = [p or "." for p in sys.path]
    repos: list[str] = []
    if result is not None:
        repos = sorted(
            {str(i["repo"]) for i in result["installs"].values() if i.get("repo") is not None}
        )
    heads = [f for repo in repos for f in _git_head_files(repo)]
    watched = (*paths, *heads, *(str(p) for p in _pip_config_files()))
    stats = tuple(_stat(p) for p in watched)
    entries = tuple(_metadata_entries(p) for p in paths)
    return (tuple(sys.path), _pip_variables(), watched, stats, entries)


def _metadata_entries(folder: str) -> tuple[tuple[str, Any], ...] | None:
    """The distribution metadata in a ``sys.path`` folder (what ``importlib.metadata`` reads),
    each with its stat; None for a path that is not a folder."""
    try:
        with os.scandir(folder) as listing:
            found = [(e.name, e) for e in listing if e.name.lower().endswith(_METADATA)]
        return tuple(sorted((name, _stat(entry.path)) for name, entry in found))
    except OSError:
        return None


_METADATA = (".dist-info", ".egg-info", ".egg")


def _revalidated(key: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """``key`` (with the stats of now) while it still describes the environment, else None: the
    same ``sys.path`` and pip variables, and every watched path (the ``sys.path`` folders, the
    HEAD files of editable installs' repos, pip's configuration files) with the same stat,
    or, for a ``sys.path`` folder, the same distribution metadata (a training script's folder
    changes with every file written to it). The list of watched paths is not rebuilt: it
    depends only on what is compared (a HEAD file's change changes its stat)."""
    if key[0] != tuple(sys.path) or key[1] != _pip_variables():
        return None
    stats = tuple(_stat(p) for p in key[2])
    if stats == key[3]:
        return key
    if not _unchanged(key[3], key[4], stats, lambda i: _metadata_entries(key[2][i])):
        return None
    return (*key[:3], stats, key[4])


def _unchanged(
    stats: Sequence[Any],
    entries: Sequence[Any],
    stats_now: Sequence[Any],
    entries_now: Callable[[int], Any],
    absent: Any = None,
) -> bool:
    """Whether each watched path has its stat of then (``stats``) or, for a ``sys.path``
    folder, the distribution metadata of then (``entries``; ``absent`` for any other path:
    a HEAD file, a configuration file, a zip on ``sys.path``). ``entries_now(i)`` lists the
    ``i``-th path's metadata now; it is asked only where a stat differs."""
    for i, (then, now) in enumerate(zip(stats, stats_now, strict=True)):
        if then != now:
            was = entries[i] if i < len(entries) else absent
            if was == absent or entries_now(i) != was:
                return False
    return True


def _pip_variables() -> tuple[Any, ...]:
    """The variables that say where pip looks (``indexes``) and for its configuration."""
    raw = getattr(os.environ, "_data", None)  # POSIX: the bytes, without decoding each one
    if isinstance(raw, dict):
        return tuple(sorted((k, v) for k, v in raw.items() if k[:4] in _PIP_PREFIXES))
    return tuple(sorted((k, v) for k, v in os.environ.items() if k[:4] in _PIP_NAMES))


_PIP_PREFIXES = frozenset({b"PIP_", b"XDG_", b"HOME"})  # HOME: where ~/.pip/pip.conf is
_PIP_NAMES = frozenset(p.decode() for p in _PIP_PREFIXES)


def _racy(key: tuple[Any, ...], started: float) -> bool:
    stats = [*key[3], *(stat for entries in key[4] if entries for _, stat in entries)]
    newest = max((s[1] for s in stats if s is not None), default=0)
    return bool(newest >= (started - RACY_SECONDS) * 1e9)


def _pip_config_files() -> list[Path]:
    home = Path.home()
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path("/etc/pip.conf"), *(Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d)]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files += [home / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return files


def install_sources() -> dict[str, Any]:
    """Where pip looks for packages here: ``index_url``, ``extra_index_urls``, ``find_links``,
    from pip's configuration files and ``PIP_*`` variables (later ones win, as in pip).
    Credentials are kept: the caller strips them before recording."""
    import configparser

    values: dict[str, str] = {}
    for path in _pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in ("index-url", "extra-index-url", "find-links"):
                    if parser.has_option(section, key):
                        values[key] = parser.get(section, key)
    for key in ("index-url", "extra-index-url", "find-links"):
        env_value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env_value:
            values[key] = env_value
    return {
        "index_url": values.get("index-url", "").strip() or None,
        "extra_index_urls": values.get("extra-index-url", "").split(),
        "find_links": values.get("find-links", "").split(),
    }


def _recorded_indexes() -> dict[str, Any]:
    sources = install_sources()
    return {
        "index_url": strip_url_credentials(sources["index_url"]) if sources["index_url"] else None,
        "extra_index_urls": [strip_url_credentials(u) for u in sources["extra_index_urls"]],
        "find_links": [strip_url_credentials(u) for u in sources["find_links"]],
    }


def _compute() -> dict[str, Any]:
    import platform

    packages, installs = _distributions()
    editable = {
        name: {"path": info["path"], "commit": info.get("commit")}
        for name, info in installs.items()
        if info["kind"] == "editable"
    }
    return {
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "in_venv": sys.prefix != sys.base_prefix,
        "packages": packages,
        "editable": editable,
        "installs": installs,
        "indexes": _recorded_indexes(),
    }


def capture_environment() -> dict[str, Any]:
    """The interpreter and installed distributions (computed on the first call, then reused
    while nothing they depend on changed; a process starts from the copy the last one kept
    on disk, checked the same way)."""
    import time

    global _cached, _cached_key
    with _lock:
        if _cached is not None and _cached_key is not None:
            key = _revalidated(_cached_key)
            if key is not None:
                _cached_key = key
                return copy_plain(_cached)
        kept = _load_kept()
        if kept is not None:
            _cached, _cached_key = kept
            return copy_plain(kept[0])
        started = time.time()
        result = _compute()
        key = _key(result)
        _cached, _cached_key = result, (None if _racy(key, started) else key)
        if _cached_key is not None:
            _keep(result, key)
        return copy_plain(result)


# --- the copy kept on disk, for the next process (``probe.keep``) ---------------------------
# Reading every distribution's metadata costs a process's first run ~0.2 s. The copy holds the
# result with its key as text (the key holds bytes); a later process uses it only when the key
# it computes now for that result is the same.


def _kept_file() -> Path:
    return kept_file("environment", sys.executable, sys.version, sys.path)


def _load_kept() -> tuple[dict[str, Any], tuple[Any, ...]] | None:
    kept = load_kept(_kept_file())
    result = kept.get("result") if kept is not None else None
    if kept is None or not isinstance(result, dict):
        return None
    try:
        key = _key(result)
    except (KeyError, TypeError, AttributeError):
        return None
    now, then = _kept_key(key), kept.get("key")
    if not isinstance(then, list) or len(then) != 4 or then[:2] != now[:2]:
        return None
    count = len(now[2])
    stats = [_item(then[2], i) for i in range(count)]
    entries = [_item(then[3], i) for i in range(count)]
    if not _unchanged(stats, entries, now[2], now[3].__getitem__, absent="None"):
        return None
    return result, key


def _kept_key(key: tuple[Any, ...]) -> list[Any]:
    """``key`` as text (it holds bytes), by part: a later process compares the stats one by
    one, and a ``sys.path`` folder's metadata where its stat differs."""
    stats = [repr(s) for s in key[3]]
    entries = [repr(e) for e in key[4]] + ["None"] * (len(stats) - len(key[4]))
    return [repr(key[0]), repr((key[1], key[2])), stats, entries]


def _item(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, list) and i < len(values) else None


def _keep(result: dict[str, Any], key: tuple[Any, ...]) -> None:
    keep(_kept_file(), {"key": _kept_key(key), "result": result})
