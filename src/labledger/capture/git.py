"""Git probe: commit, branch and remote, plus every uncommitted change needed to rebuild the tree.

A run is reproducible from ``commit`` + ``diff`` (``git apply``) + ``untracked`` (written back as
files). Git is only read: ``GIT_OPTIONAL_LOCKS=0`` keeps it from refreshing the index, and
``core.fsmonitor=false`` keeps it from starting a monitor daemon.

The diff is computed against a temporary copy of the index dated one second after the epoch
(``GIT_INDEX_FILE``): git then treats every entry as "racily clean" and compares contents, so
an edit that keeps a file's size and modification time (same second, or a tool that restores
mtimes) is seen, and the user's index is never written. Each git command has a generous
deadline; ``capture_git`` retries once when git is slow, and the registry gives the git probe
its own deadline, separate from the other probes'.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from labledger.capture.probe import copy_plain, keep, kept_file, load_kept
from labledger.capture.redact import looks_like_secret_file, strip_url_credentials
from labledger.capture.watch import watch_folders
from labledger.config import DEFAULT_DIRNAME

GIT_TIMEOUT = 60.0  # seconds for one git command (a loaded machine can be very slow)
RETRIES = 1  # a capture that fails on a timeout is tried once more
UNTRACKED_FILE_LIMIT = 256 * 1024  # bytes per untracked file
UNTRACKED_TOTAL_LIMIT = 5 * 1024 * 1024  # bytes of untracked content in all
SECRET_FILES_OPT_IN = "LABLEDGER_CAPTURE_SECRET_FILES"  # "1": record their content too
UNTRACKED_SKIPPED_LISTED = 1000  # skipped paths named one by one; the rest are only counted
DIFF_LIMIT = 64 * 1024 * 1024  # bytes; a bigger diff (a changed tracked data file) is not stored

# The tree of an empty repository, to diff against before the first commit.
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_NOT_A_REPO = "not a git repository"
# Settings that make git's output independent of the user's configuration and free of side effects.
# diff.autoRefreshIndex=false: porcelain `git diff` otherwise rewrites a stat-dirty index.
_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.quotePath=true",
    "-c",
    "color.ui=false",
    "-c",
    "diff.autoRefreshIndex=false",
)
_DIFF_ARGS = (
    "diff",
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class GitError(Exception):
    """A git command failed; the message is git's own first line."""


class GitNotFound(GitError):
    """No git executable on PATH."""


def run_git(
    args: list[str],
    cwd: Path,
    timeout: float = GIT_TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> bytes:
    """Run one read-only git command in ``cwd`` and return its stdout."""
    import subprocess

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.update(extra_env or {})
    try:
        done = subprocess.run(
            ["git", *_CONFIG, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        if exc.filename == "git":
            raise GitNotFound("git executable not found") from None
        raise GitError(f"cannot run git in {cwd}: {exc.strerror}") from None
    except OSError as exc:
        raise GitError(f"cannot run git in {cwd}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} timed out after {timeout:g}s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(message[0] if message else f"git {args[0]} exited with {done.returncode}")
    return done.stdout


def _line(output: bytes) -> str:
    return output.decode(errors="replace").strip()


class _Layout(NamedTuple):
    root: Path
    git_dir: Path
    common_dir: Path


def _layout(cwd: Path) -> _Layout:
    out = run_git(["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"], cwd)
    root, git_dir, common_dir = out.decode(errors="surrogateescape").splitlines()[:3]
    return _Layout(Path(root), Path(git_dir), (cwd / common_dir).resolve())


# --- commit, branch and remote: cached while HEAD, the refs and the config are unchanged ---

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[Any, ...], dict[str, Any]]] = {}


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _state_key(layout: _Layout) -> tuple[Any, ...]:
    head = layout.git_dir / "HEAD"
    try:
        head_text = head.read_text(errors="replace").strip()
    except OSError:
        head_text = ""
    files = [head, layout.git_dir / "index", layout.common_dir / "config"]
    files.append(layout.common_dir / "packed-refs")
    if head_text.startswith("ref: "):
        files.append(layout.common_dir / head_text.removeprefix("ref: "))
    return (head_text, *(_stat_key(path) for path in files))


def _remote(root: Path, branch: str | None) -> tuple[str | None, str | None]:
    try:
        out = run_git(
            ["config", "-z", "--get-regexp", r"^(remote\..*\.url|branch\..*\.remote)$"], root
        )
    except GitError:  # exit status 1: no remotes configured
        return None, None
    urls: dict[str, str] = {}
    upstream: str | None = None
    for entry in out.decode(errors="replace").split("\0"):
        key, _, value = entry.partition("\n")
        if key.startswith("remote.") and key.endswith(".url"):
            urls.setdefault(key[len("remote.") : -len(".url")], value)
        elif branch is not None and key == f"branch.{branch}.remote":
            upstream = value
    for name in (upstream, "origin", *urls):
        if name in urls:
            return name, strip_url_credentials(urls[name])
    return None, None


def _head_info(layout: _Layout) -> dict[str, Any]:
    key = _state_key(layout)
    with _cache_lock:
        cached = _cache.get(layout.root)
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    try:
        commit: str | None = _line(
            run_git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], layout.root)
        )
    except GitError:  # no commit yet
        commit = None
    try:
        branch: str | None = _line(run_git(["symbolic-ref", "-q", "--short", "HEAD"], layout.root))
    except GitError:  # detached HEAD
        branch = None
    remote_name, remote_url = _remote(layout.root, branch)
    info = {"commit": commit, "branch": branch, "remote": remote_name, "remote_url": remote_url}
    with _cache_lock:
        _cache[layout.root] = (key, info)
    return dict(info)


# --- uncommitted changes: computed on every call ---


class _StaleIndex:
    """A copy of the repository's index dated 1970, for ``GIT_INDEX_FILE``."""

    def __init__(self, git_dir: Path) -> None:
        import tempfile

        self.env: dict[str, str] = {}
        self.path: str | None = None
        index = git_dir / "index"
        if not index.is_file():
            return
        fd, self.path = tempfile.mkstemp(prefix="labledger-index-")
        try:
            with os.fdopen(fd, "wb") as handle, open(index, "rb") as source:
                import shutil

                shutil.copyfileobj(source, handle)
            os.utime(self.path, (1, 1))  # not 0: git reads a zero timestamp as "unknown"
        except OSError:
            self.close()
            return
        self.env = {"GIT_INDEX_FILE": self.path}

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.path = None


def _diff(
    root: Path, commit: str | None, env: dict[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The text of ``git diff <commit> --binary`` and, when it cannot be stored, why."""
    base = commit or _EMPTY_TREE
    raw = run_git([*_DIFF_ARGS, base, "--"], root, extra_env=env)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # A changed text file that is not UTF-8 would make the patch undecodable. Diffing every
        # file as binary gives an ASCII patch (base85) that still re-applies byte for byte.
        raw = _diff_all_binary(root, base, env)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # the repo's .gitattributes forces text diffs on that file
            return None, "diff holds non-UTF-8 text that cannot be stored without corruption"
    if len(raw) > DIFF_LIMIT:
        return None, f"diff is {len(raw)} bytes, over the {DIFF_LIMIT}-byte limit"
    return text, None


def _diff_all_binary(root: Path, base: str, env: dict[str, str] | None) -> bytes:
    """``git diff --binary`` with every path marked binary, through a throwaway attributes file."""
    import tempfile

    fd, attributes = tempfile.mkstemp(prefix="labledger-", suffix=".gitattributes")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("* binary\n")
        args = ["-c", f"core.attributesFile={attributes}", *_DIFF_ARGS, base, "--"]
        return run_git(args, root, extra_env=env)
    finally:
        os.unlink(attributes)


def _read_text_file(path: Path) -> tuple[str | None, str | None]:
    """The content of ``path`` if it is a small UTF-8 text file, else why it is skipped."""
    try:
        st = path.lstat()
        if not path.is_file() or path.is_symlink():
            return None, "not a regular file"
        if st.st_size > UNTRACKED_FILE_LIMIT:
            return None, f"larger than {UNTRACKED_FILE_LIMIT} bytes"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if len(data) > UNTRACKED_FILE_LIMIT:
        return None, f"larger than {UNTRACKED_FILE_LIMIT} bytes"
    if b"\0" in data:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "binary"


def _digest(path: Path) -> str:
    import hashlib

    try:
        with open(path, "rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _untracked(root: Path) -> tuple[dict[str, str], dict[str, str], int]:
    """Untracked, non-ignored files: {path: content}, {path: reason skipped}, skipped unlisted.
    Files that look like secrets are listed by name and digest unless the user opts in."""
    opt_in = os.environ.get(SECRET_FILES_OPT_IN) == "1"
    out = run_git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    contents: dict[str, str] = {}
    skipped: dict[str, str] = {}
    unlisted = 0
    total = 0
    over_total = f"total untracked content over {UNTRACKED_TOTAL_LIMIT} bytes"
    for raw_name in out.split(b"\0"):
        if not raw_name:
            continue
        name = os.fsdecode(raw_name)
        if name.split("/", 1)[0] == DEFAULT_DIRNAME:
            continue  # the store itself (a folder without its .gitignore)
        if looks_like_secret_file(name) and not opt_in:  # .env, *.pem: name and digest only
            if len(skipped) < UNTRACKED_SKIPPED_LISTED:
                skipped[name] = (
                    f"looks like a secret; content not recorded ({_digest(root / name)})"
                )
            else:
                unlisted += 1
            continue
        text: str | None = None
        reason = over_total
        if total < UNTRACKED_TOTAL_LIMIT:
            text, why = _read_text_file(root / name)
            reason = why or reason
        size = len(text.encode()) if text is not None else 0
        if text is not None and total + size <= UNTRACKED_TOTAL_LIMIT:
            contents[name] = text
            total += size
        elif text is None and len(skipped) < UNTRACKED_SKIPPED_LISTED:
            skipped[name] = reason
        elif len(skipped) < UNTRACKED_SKIPPED_LISTED:
            skipped[name] = over_total
        else:
            unlisted += 1
    return contents, skipped, unlisted


_found: dict[Path, _Layout] = {}  # the layout of the latest capture in each folder


def capture_git(cwd: Path | None = None, retries: int = RETRIES) -> dict[str, Any]:
    """``_capture_git`` retried ``retries`` times when git fails or is too slow; the result
    says how many attempts it took when more than one."""
    for attempt in range(retries + 1):
        try:
            result = _capture_git(cwd)
        except GitError:
            if attempt == retries:
                raise
            continue
        if attempt:
            result["attempts"] = attempt + 1
        return result
    raise AssertionError("unreachable")


def _capture_git(cwd: Path | None = None) -> dict[str, Any]:
    """Git state of the repository holding ``cwd`` (default: the current directory).

    Keys: ``present``, ``root``, ``commit`` (None before the first commit), ``branch`` (None when
    detached), ``remote`` and ``remote_url`` (the branch's upstream, else ``origin``, else the
    first; credentials stripped), ``dirty`` (tracked changes or untracked files), ``diff`` (``git
    diff HEAD --binary``, re-applies with ``git apply``; None with ``diff_skipped`` when too big),
    ``untracked`` ({path: text}) and ``untracked_skipped`` ({path: reason}).

    Outside a repository: ``{"present": False}``; without a git executable or when git refuses
    the repository, the same with a ``reason``. Raises ``GitError`` only when a later git command
    fails (or times out) inside a repository.
    """
    here = Path.cwd() if cwd is None else Path(cwd)
    try:
        layout = _layout(here)
        _found[here] = layout  # for the cache: the layout this result describes
    except GitNotFound as exc:
        return {"present": False, "reason": str(exc)}
    except GitError as exc:
        if _NOT_A_REPO in str(exc).lower():
            return {"present": False}
        return {"present": False, "reason": str(exc)}
    info = _head_info(layout)
    index = _StaleIndex(layout.git_dir)
    try:
        diff, diff_skipped = _diff(layout.root, info["commit"], index.env)
    finally:
        index.close()
    untracked, skipped, unlisted = _untracked(layout.root)
    result: dict[str, Any] = {
        "present": True,
        "root": str(layout.root),
        **info,
        "dirty": bool(diff or diff_skipped or untracked or skipped or unlisted),
        "diff": diff,
        "untracked": untracked,
        "untracked_skipped": skipped,
    }
    if diff_skipped:
        result["diff_skipped"] = diff_skipped
    if unlisted:
        result["untracked_skipped_unlisted"] = unlisted
    return result


# --- the whole capture, cached per process while nothing it depends on changed -------------
#
# A process that starts many runs (a sweep, a test suite) would spend most of each run's start
# in git. The result is reused while the stat of everything that can change it is the same:
# git's own files (HEAD, refs, index, config, excludes), every tracked file, every untracked
# file and every directory git looks into. An entry is only reused when all those stats were
# older than the capture by ``RACY_SECONDS``: a file changed within the same clock tick as the
# capture (file times are coarse) could otherwise keep its stat and go unseen, the problem git
# itself calls "racily clean". Repositories with submodules are not cached.
#
# Comparing those stats is hundreds of system calls per run. On Linux the folders holding them
# are watched (``capture.watch``): while no event arrived, the entry is valid without them; any
# event in a watched folder (or a watch that cannot be trusted) falls back to the comparison.

RACY_SECONDS = 2.0
_tree_lock = threading.Lock()
_layouts: dict[Path, tuple[_Layout, str, list[str]]] = {}
_results: dict[Path, tuple[tuple[Any, ...], dict[str, Any]]] = {}  # root -> (key, result)


def _cached_layout(here: Path) -> _Layout | None:
    """The layout found for ``here`` before, if no repository appeared in between."""
    entry = _layouts.get(here)
    if entry is None:
        return None
    layout, must_exist, must_not_exist = entry
    exists = os.path.exists
    if not exists(must_exist) or any(exists(p) for p in must_not_exist):
        return None  # the repository went away, or a `git init` below its root
    return layout


def _layout_entry(here: Path, layout: _Layout) -> tuple[_Layout, str, list[str]] | None:
    """What ``_cached_layout`` checks: the root's ``.git``, and no ``.git`` between ``here``
    and the root (None when ``here`` is not below the root)."""
    probes: list[str] = []
    folder = here
    while folder != layout.root:
        if folder.parent == folder:
            return None
        probes.append(str(folder / ".git"))
        folder = folder.parent
    return layout, str(layout.root / ".git"), probes


def _stat_all(paths: Sequence[str | Path]) -> tuple[Any, ...]:
    stat = os.stat
    out: list[Any] = []
    for path in paths:
        try:
            st = stat(path, follow_symlinks=False)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode))
    return tuple(out)


def _git_files(layout: _Layout) -> list[Path]:
    """git's own files whose change can change the captured state."""
    home = Path.home()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        layout.git_dir / "HEAD",
        layout.git_dir / "index",
        layout.common_dir / "config",
        layout.common_dir / "packed-refs",
        layout.common_dir / "info" / "exclude",
        layout.common_dir / "info" / "attributes",
        home / ".gitconfig",
        config_home / "git" / "config",
        config_home / "git" / "ignore",
        config_home / "git" / "attributes",
    ]


def _watched_paths(layout: _Layout, result: dict[str, Any]) -> tuple[list[Path], list[Path]] | None:
    """Every path whose stat the cached ``result`` depends on, and of them the folders git
    looks into (a new file in any of them matters); None when not cacheable."""
    root = layout.root
    if (root / ".gitmodules").exists():
        return None
    tracked = run_git(["ls-files", "-z"], root).split(b"\0")
    ignored = run_git(
        ["ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"], root
    ).split(b"\0")
    skip = {root / ".git", root / DEFAULT_DIRNAME}  # the store: `_untracked` skips it too
    skip |= {root / name for name in _ignored_folders(root, ignored)}
    folders: list[Path] = []
    stack = [root]
    while stack:  # every folder git looks into: a new file anywhere in one changes its stat
        folder = stack.pop()
        folders.append(folder)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        path = Path(entry.path)
                        if path not in skip:
                            stack.append(path)
        except OSError:
            continue
    files = [root / os.fsdecode(p) for p in tracked if p]
    names = [*result.get("untracked", {}), *result.get("untracked_skipped", {})]
    files += [root / name for name in names]
    head = layout.git_dir / "HEAD"
    refs: list[Path] = []
    if result.get("branch"):
        refs.append(layout.common_dir / "refs" / "heads" / str(result["branch"]))
    if head.is_file() and head.read_text(errors="replace").startswith("ref: "):
        refs.append(layout.common_dir / head.read_text(errors="replace")[5:].strip())
    return [*_git_files(layout), *refs, *folders, *files], folders


def _ignored_folders(root: Path, listed: list[bytes]) -> list[str]:
    """The folders git never looks into: of those ``--ignored --directory`` lists (which also
    lists a folder whose files are all ignored, where a new file would not be), the ones an
    ignore pattern matches themselves."""
    folders = [os.fsdecode(p).rstrip("/") for p in listed if p.endswith(b"/")]
    if not folders or len(folders) > 2000:
        return []  # none skipped: slower, never wrong
    try:
        out = run_git(["check-ignore", "--no-index", "--", *folders], root)
    except GitError:  # exit status 1: none of them is ignored itself
        return []
    # core.quotePath quotes unusual names: those do not match, and are looked into.
    return [name for name in os.fsdecode(out).splitlines() if name in folders]


def _environment_key() -> tuple[Any, ...]:
    raw = getattr(os.environ, "_data", None)  # POSIX: the bytes, without decoding each one
    if isinstance(raw, dict):
        return tuple(sorted((k, v) for k, v in raw.items() if k[:4] == b"GIT_"))
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_")))


def _watch_plan(
    paths: list[Path], folders: list[Path]
) -> tuple[dict[Path, set[str] | None], list[Path]]:
    """What to watch so that a change to any of ``paths`` is an event: ``folders`` whole,
    and for every other path the folder holding it, for its name. A path whose folder does
    not exist is watched through its nearest existing ancestor, and that missing folder's
    path is returned to be stat-compared too (its creation must be seen)."""
    plan: dict[Path, set[str] | None] = dict.fromkeys(folders)
    missing: list[Path] = []
    for path in paths:
        if path in plan and plan[path] is None:
            continue
        child, folder = path, path.parent
        while not folder.is_dir():
            if folder.parent == folder:
                break
            child, folder = folder, folder.parent
        if child is not path:
            missing.append(child)
        if folder not in plan:
            plan[folder] = set()
        names = plan[folder]
        if names is not None:
            names.add(child.name)
    return plan, missing


def cached_capture_git(cwd: Path | None = None, retries: int = RETRIES) -> dict[str, Any]:
    """``capture_git``, answered from this process's cache when nothing changed since."""
    import time

    here = (Path.cwd() if cwd is None else Path(cwd)).absolute()
    env_key = _environment_key()
    with _tree_lock:
        layout = _cached_layout(here)
        cached = _results.get(layout.root) if layout is not None else None
    if layout is not None and cached is not None:
        key, result = cached
        paths, stats, cached_env, watch = key
        if cached_env == env_key:

            def check() -> bool:
                return bool(_stat_all(paths) == stats)

            if watch.unchanged(check) if watch is not None else check():
                return copy_plain(result)
    kept = _from_kept(here, env_key) if cached is None else None
    if kept is not None:
        return kept
    started = time.time()
    result = capture_git(here, retries)
    if not result.get("present") or "attempts" in result:
        return result
    try:
        layout = _found.pop(here, None) or _layout(here)
        watched = _watched_paths(layout, result)
    except (GitError, OSError, ValueError):
        return result
    if watched is None:
        return result
    paths, folders = watched
    plan, missing = _watch_plan(paths, folders)
    paths += missing
    watch = watch_folders(plan)  # before the stats: a change after them is then an event
    stats = _stat_all(paths)
    newest = max((s[1] for s in stats if s is not None), default=0)
    if newest >= (started - RACY_SECONDS) * 1e9:
        if watch is not None:
            watch.close()
        return result  # something changed just now: the next run asks git again
    entry = _layout_entry(here, layout)
    _remember(here, entry, layout.root, (paths, stats, env_key, watch), result)
    if entry is not None:
        _keep(layout, paths, plan, stats, env_key, result)
    return result


def _enclosing_repository(here: Path) -> Path | None:
    """The nearest folder from ``here`` up holding ``.git`` (what git finds, for the layouts a
    kept answer is for: git's own variables are in its key), on the same file system as
    ``here`` (git does not look across one); None when there is none."""
    try:
        device = os.stat(here).st_dev
        folder = here
        while True:
            if os.path.lexists(folder / ".git"):
                return folder
            if folder.parent == folder or os.stat(folder.parent).st_dev != device:
                return None
            folder = folder.parent
    except OSError:
        return None


def _remember(
    here: Path,
    entry: tuple[_Layout, str, list[str]] | None,
    root: Path,
    key: tuple[Any, ...],  # (paths, stats, git's environment, watch)
    result: dict[str, Any],
) -> None:
    with _tree_lock:
        if entry is not None:
            _layouts[here] = entry
        old = _results.get(root)
        _results[root] = (key, copy_plain(result))
    if old is not None and old[0][3] is not None:
        old[0][3].close()


# --- the answer kept on disk for the next process (``probe.keep``) -------------------------
# What a capture of a repository found, with everything its cache entry is checked by: the
# layout, the watched paths and their stats, git's environment. A process with no entry of its
# own, in any folder of that work tree, starts from it after the same checks (a watch set up
# first) instead of running git's commands again.


def _keep(
    layout: _Layout,
    paths: list[Path],
    plan: dict[Path, set[str] | None],
    stats: tuple[Any, ...],
    env_key: tuple[Any, ...],
    result: dict[str, Any],
) -> None:
    record = {
        "env": repr(env_key),
        "layout": [str(p) for p in layout],
        "paths": [str(p) for p in paths],
        "plan": {str(f): None if names is None else sorted(names) for f, names in plan.items()},
        "stats": stats,
        "result": result,
    }
    keep(kept_file("git", layout.root), record)


def _from_kept(here: Path, env_key: tuple[Any, ...]) -> dict[str, Any] | None:
    root = _enclosing_repository(here)
    kept = load_kept(kept_file("git", root)) if root is not None else None
    if kept is None or kept.get("env") != repr(env_key):
        return None
    try:
        layout = _Layout(*(Path(p) for p in kept["layout"]))
        paths = [str(p) for p in kept["paths"]]  # as os.stat takes them, no Path made
        plan = {Path(f): None if names is None else set(names) for f, names in kept["plan"].items()}
        stored = tuple(None if s is None else tuple(s) for s in kept["stats"])
        result = kept["result"]
    except (KeyError, TypeError, ValueError, AttributeError):  # a damaged file: capture afresh
        return None
    entry = _layout_entry(here, layout)
    if layout.root != root or entry is None or not isinstance(result, dict):
        return None
    watch = watch_folders(plan)  # before the stats, as for a fresh capture
    stats = _stat_all(paths)
    if stats != stored:
        if watch is not None:
            watch.close()
        return None
    _remember(here, entry, layout.root, (paths, stats, env_key, watch), result)
    return copy_plain(result)
