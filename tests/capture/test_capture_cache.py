"""The per-process capture cache: reused while nothing changed, never stale.

Each test waits past the cache's racy window (shortened here) so the first capture is cached,
then changes one thing and checks the next capture shows it exactly as an uncached one does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from labledger.capture import environment
from labledger.capture import git as git_probe

from .conftest import GitRunner

pytestmark = pytest.mark.usefixtures("git_env")

RACY = 0.05


@pytest.fixture(autouse=True)
def short_racy_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(git_probe, "RACY_SECONDS", RACY)
    monkeypatch.setattr(environment, "RACY_SECONDS", RACY)
    git_probe._results.clear()
    git_probe._layouts.clear()
    yield
    git_probe._results.clear()
    git_probe._layouts.clear()


def settle() -> None:
    time.sleep(RACY * 3)


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "only_ignored").mkdir()
    (root / "train.py").write_text("lr = 0.1\n")
    (root / "pkg" / "model.py").write_text("layers = 2\n")
    (root / "only_ignored" / "x.log").write_text("log\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    settle()
    return root


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    real = git_probe.run_git

    def counting(args: list[str], cwd: Path, *rest: Any, **kw: Any) -> bytes:
        calls.append(args)
        return real(args, cwd, *rest, **kw)

    monkeypatch.setattr(git_probe, "run_git", counting)
    return calls


def fresh(repo: Path) -> dict[str, Any]:
    """What an uncached capture says now."""
    return git_probe.capture_git(repo)


def test_unchanged_tree_is_answered_without_git(repo: Path, git_calls: list[list[str]]) -> None:
    first = git_probe.cached_capture_git(repo)
    git_calls.clear()

    second = git_probe.cached_capture_git(repo)

    assert git_calls == []
    assert second == first == fresh(repo)


def test_cached_result_cannot_be_changed_by_a_caller(repo: Path) -> None:
    first = git_probe.cached_capture_git(repo)
    first["untracked"]["evil.py"] = "x"
    assert git_probe.cached_capture_git(repo)["untracked"] == {}


def test_edit_between_two_captures_shows_in_the_second_diff(repo: Path) -> None:
    assert git_probe.cached_capture_git(repo)["diff"] == ""
    (repo / "train.py").write_text("lr = 0.2\n")  # same size, within the same clock tick

    second = git_probe.cached_capture_git(repo)

    assert "+lr = 0.2" in second["diff"] and second["dirty"] is True
    assert second == fresh(repo)


def test_edit_that_restores_the_modification_time_is_seen(repo: Path) -> None:
    path = repo / "pkg" / "model.py"
    before = path.stat()
    git_probe.cached_capture_git(repo)
    path.write_text("layers = 3\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert "+layers = 3" in git_probe.cached_capture_git(repo)["diff"]


@pytest.mark.parametrize(
    "where", ["new.py", "pkg/new.py", "newdir/deep/new.py", "only_ignored/n.py"]
)
def test_new_untracked_file_anywhere_is_seen(repo: Path, where: str) -> None:
    git_probe.cached_capture_git(repo)
    (repo / where).parent.mkdir(parents=True, exist_ok=True)
    (repo / where).write_text("print('new')\n")

    second = git_probe.cached_capture_git(repo)

    assert second["untracked"] == {where: "print('new')\n"}
    assert second == fresh(repo)


def test_ignored_file_does_not_show_but_removed_file_does(repo: Path) -> None:
    git_probe.cached_capture_git(repo)
    (repo / "pkg" / "run.log").write_text("noise\n")
    assert git_probe.cached_capture_git(repo) == fresh(repo)
    (repo / "pkg" / "model.py").unlink()

    second = git_probe.cached_capture_git(repo)

    assert "deleted file mode" in second["diff"]
    assert second == fresh(repo)


def test_commit_checkout_and_staging_are_seen(repo: Path, git: GitRunner) -> None:
    first = git_probe.cached_capture_git(repo)
    (repo / "train.py").write_text("lr = 0.3\n")
    git(repo, "commit", "-q", "-am", "second")

    committed = git_probe.cached_capture_git(repo)
    assert committed["commit"] == git(repo, "rev-parse", "HEAD") != first["commit"]
    assert committed["diff"] == ""

    git(repo, "checkout", "-q", "-b", "other")
    assert git_probe.cached_capture_git(repo)["branch"] == "other"

    (repo / "staged.py").write_text("s = 1\n")
    git(repo, "add", "staged.py")
    staged = git_probe.cached_capture_git(repo)
    assert "staged.py" in staged["diff"] and staged == fresh(repo)


def test_a_racy_capture_is_not_reused(
    repo: Path, git_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(git_probe, "RACY_SECONDS", 60.0)  # everything counts as just changed
    git_probe.cached_capture_git(repo)
    git_calls.clear()

    git_probe.cached_capture_git(repo)

    assert git_calls  # asked git again


def test_git_environment_change_is_not_served_from_cache(
    repo: Path, tmp_path: Path, git: GitRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_probe.cached_capture_git(repo)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "trunk")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))

    assert git_probe.cached_capture_git(repo)["branch"] == "trunk"


def test_new_repository_below_the_cached_root_is_seen(repo: Path, git: GitRunner) -> None:
    inner = repo / "pkg"
    git_probe.cached_capture_git(inner)
    git(inner, "init", "-q", "-b", "inner")

    assert git_probe.cached_capture_git(inner)["root"] == str(inner.resolve())


def test_unchanged_tree_is_answered_without_stat_ing_every_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = git_probe.cached_capture_git(repo)
    if git_probe._results[repo.resolve()][0][3] is None:
        pytest.skip("no folder watch here (not Linux, or not a local file system)")
    stat_all = git_probe._stat_all
    compared: list[int] = []
    monkeypatch.setattr(git_probe, "_stat_all", lambda p: compared.append(len(p)) or stat_all(p))

    assert git_probe.cached_capture_git(repo) == first
    assert compared == []  # the watch saw no event
    (repo / "pkg" / "model.py").write_text("layers = 9\n")
    assert "+layers = 9" in git_probe.cached_capture_git(repo)["diff"]
    assert compared  # the event made it compare


def test_new_global_ignore_file_in_a_missing_folder_is_seen(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # does not exist yet
    (repo / "notes.txt").write_text("todo\n")
    settle()
    assert "notes.txt" in git_probe.cached_capture_git(repo)["untracked"]
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    assert git_probe.cached_capture_git(repo) == fresh(repo)  # nothing git reads yet
    (tmp_path / "xdg" / "git" / "ignore").write_text("notes.txt\n")

    second = git_probe.cached_capture_git(repo)

    assert second["untracked"] == {} and second == fresh(repo)


def test_edit_in_a_tracked_file_inside_an_ignored_folder_is_seen(
    repo: Path, git: GitRunner
) -> None:
    (repo / "build" / "deep").mkdir(parents=True)
    (repo / "build" / "deep" / "keep.cfg").write_text("a = 1\n")
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    git(repo, "add", "-f", ".gitignore", "build/deep/keep.cfg")
    git(repo, "commit", "-q", "-m", "keep")
    settle()
    git_probe.cached_capture_git(repo)
    (repo / "build" / "deep" / "keep.cfg").write_text("a = 2\n")

    assert "+a = 2" in git_probe.cached_capture_git(repo)["diff"]


def test_repository_replaced_by_a_copy_at_the_same_path_is_seen(repo: Path, tmp_path: Path) -> None:
    path = repo / "train.py"
    git_probe.cached_capture_git(repo)
    shutil.move(repo, tmp_path / "old")
    shutil.copytree(tmp_path / "old", repo)  # copy2: same sizes and modification times
    before = path.stat()
    path.write_text("lr = 0.9\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert "+lr = 0.9" in git_probe.cached_capture_git(repo)["diff"]


# --- the environment (package list) -----------------------------------------------------


def _fake_dist(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    _fake_dist(folder, "labledger-fake-one", "1.0")
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    monkeypatch.setattr(environment, "_cached", None)
    monkeypatch.setattr(environment, "_cached_key", None)
    settle()
    return folder


def test_package_list_matches_importlib_metadata(site: Path) -> None:
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        name = environment.normalize_name(str(dist.metadata["Name"]))
        expected.setdefault(name, dist.version)

    assert environment.capture_environment()["packages"] == dict(sorted(expected.items()))


def test_install_and_uninstall_between_captures_are_seen(site: Path) -> None:
    assert environment.capture_environment()["packages"]["labledger-fake-one"] == "1.0"
    _fake_dist(site, "labledger-fake-two", "2.0")

    assert environment.capture_environment()["packages"]["labledger-fake-two"] == "2.0"

    settle()
    environment.capture_environment()
    shutil.rmtree(site / "labledger-fake-one-1.0.dist-info")

    assert "labledger-fake-one" not in environment.capture_environment()["packages"]


def test_files_written_beside_the_packages_keep_the_environment(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script's folder is on ``sys.path`` and changes with every file written there
    (outputs, an editor's save): only distribution metadata counts."""
    first = environment.capture_environment()
    settle()
    (site / "outputs").mkdir()
    (site / "train.py").write_text("lr = 0.1\n")
    monkeypatch.setattr(environment, "_compute", lambda: pytest.fail("recomputed"))

    assert environment.capture_environment() == first


def test_a_reinstall_of_the_same_version_is_seen(site: Path) -> None:
    """Removing and writing a distribution's metadata again (``pip install --force-reinstall``,
    or editable then not) under the same name is seen: each entry's stat is compared."""
    info = site / "labledger-fake-one-1.0.dist-info"
    assert "labledger-fake-one" not in environment.capture_environment()["installs"]
    settle()
    shutil.rmtree(info)
    _fake_dist(site, "labledger-fake-one", "1.0")
    (info / "direct_url.json").write_text(
        json.dumps({"url": "https://example.com/one-1.0.tar.gz", "archive_info": {}})
    )

    assert environment.capture_environment()["installs"]["labledger-fake-one"]["kind"] == "archive"


def test_new_sys_path_entry_is_seen(site: Path, tmp_path: Path) -> None:
    environment.capture_environment()
    more = tmp_path / "more"
    _fake_dist(more, "labledger-fake-three", "3.0")
    sys.path.insert(0, str(more))

    assert environment.capture_environment()["packages"]["labledger-fake-three"] == "3.0"


def test_unchanged_environment_is_reused(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = environment.capture_environment()
    monkeypatch.setattr(environment, "_compute", lambda: pytest.fail("recomputed"))

    assert environment.capture_environment() == first


def test_git_rewriting_an_editable_installs_index_keeps_the_environment_but_a_commit_does_not(
    site: Path, repo: Path, git: GitRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``git status`` and ``git add`` rewrite the index in ``.git``, which says nothing about
    the packages; a commit changes the editable install's recorded commit."""
    info = site / "labledger-fake-editable-0.1.dist-info"
    _fake_dist(site, "labledger-fake-editable", "0.1")
    (info / "direct_url.json").write_text(
        json.dumps({"url": repo.as_uri(), "dir_info": {"editable": True}})
    )
    settle()
    first = environment.capture_environment()["editable"]["labledger-fake-editable"]
    assert first["commit"] == git(repo, "rev-parse", "HEAD")
    settle()
    (repo / "notes.md").write_text("new\n")
    git(repo, "status")
    git(repo, "add", "notes.md")
    settle()
    compute = environment._compute
    monkeypatch.setattr(environment, "_compute", lambda: pytest.fail("recomputed"))

    assert environment.capture_environment()["editable"]["labledger-fake-editable"] == first

    git(repo, "commit", "-q", "-m", "notes")
    monkeypatch.setattr(environment, "_compute", compute)
    second = environment.capture_environment()["editable"]["labledger-fake-editable"]
    assert second["commit"] == git(repo, "rev-parse", "HEAD") != first["commit"]


def test_pip_index_change_is_seen(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    settle()
    first = environment.capture_environment()["indexes"]["index_url"]
    monkeypatch.setenv("PIP_INDEX_URL", "https://pkgs.example.com/simple")
    assert environment.capture_environment()["indexes"]["index_url"] != first

    monkeypatch.delenv("PIP_INDEX_URL")
    settle()
    environment.capture_environment()
    (tmp_path / "pip.conf").write_text("[global]\nindex-url = https://other.example.com/simple\n")
    indexes = environment.capture_environment()["indexes"]
    assert indexes["index_url"] == "https://other.example.com/simple"


def _in_a_fresh_process(setup: str, probe: str, forbidden: str) -> dict[str, Any]:
    """``probe``'s answer in a new interpreter after ``setup``; with ``forbidden`` (a
    function of the probe's module) that function exits the process instead of running."""
    code = f"import json, sys\nfrom pathlib import Path\n{setup}\n"
    if forbidden:
        code += f"{forbidden} = lambda *a, **k: sys.exit('{forbidden} ran')\n"
    code += f"print(json.dumps({probe}))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _capture_in_a_fresh_process(site: Path, fail_if_computed: bool) -> dict[str, Any]:
    return _in_a_fresh_process(
        f"sys.path.insert(0, {str(site)!r})\nfrom labledger.capture import environment\n"
        f"environment.RACY_SECONDS = {RACY}",
        "environment.capture_environment()",
        "environment._compute" if fail_if_computed else "",
    )


def test_a_new_process_starts_from_the_kept_copy_and_sees_an_install_since(
    tmp_path: Path,
) -> None:
    """The environment one process captured is reused by the next (no metadata read), until
    something it depends on changes: then it is computed afresh."""
    site = tmp_path / "site"
    _fake_dist(site, "labledger-fake-one", "1.0")
    settle()
    first = _capture_in_a_fresh_process(site, fail_if_computed=False)
    assert first["packages"]["labledger-fake-one"] == "1.0"
    assert _capture_in_a_fresh_process(site, fail_if_computed=True) == first
    settle()
    (site / "outputs").mkdir()  # not metadata: the kept copy still answers
    assert _capture_in_a_fresh_process(site, fail_if_computed=True) == first

    _fake_dist(site, "labledger-fake-two", "2.0")
    again = _capture_in_a_fresh_process(site, fail_if_computed=False)
    assert again["packages"]["labledger-fake-two"] == "2.0"
    settle()
    (site / "labledger-fake-one-1.0.dist-info" / "METADATA").unlink()
    shutil.rmtree(site / "labledger-fake-one-1.0.dist-info")
    assert "labledger-fake-one" not in _capture_in_a_fresh_process(site, False)["packages"]


def _git_in_a_fresh_process(repo: Path, fail_if_git_runs: bool) -> dict[str, Any]:
    return _in_a_fresh_process(
        f"from labledger.capture import git\ngit.RACY_SECONDS = {RACY}",
        f"git.cached_capture_git(Path({str(repo)!r}))",
        "git.run_git" if fail_if_git_runs else "",
    )


def test_a_new_process_starts_from_the_kept_git_state_and_sees_an_edit_since(
    repo: Path,
) -> None:
    """The code state one process captured is the next one's without running git, until a
    file is edited or added: the kept copy is checked as the process's own cache is."""
    first = _git_in_a_fresh_process(repo, fail_if_git_runs=False)
    assert first["present"] and first["diff"] == ""
    assert _git_in_a_fresh_process(repo, fail_if_git_runs=True) == first

    (repo / "train.py").write_text("lr = 0.2\n")
    edited = _git_in_a_fresh_process(repo, fail_if_git_runs=False)
    assert "+lr = 0.2" in edited["diff"]
    settle()
    _git_in_a_fresh_process(repo, fail_if_git_runs=False)  # kept, now with the edit
    (repo / "pkg" / "new.py").write_text("x = 1\n")
    assert "pkg/new.py" in _git_in_a_fresh_process(repo, fail_if_git_runs=False)["untracked"]


def test_the_kept_git_state_serves_every_folder_of_the_work_tree_but_not_a_nested_repository(
    repo: Path, git: GitRunner
) -> None:
    first = _git_in_a_fresh_process(repo, fail_if_git_runs=False)
    settle()
    _git_in_a_fresh_process(repo, fail_if_git_runs=False)  # kept once settled
    assert _git_in_a_fresh_process(repo / "pkg", fail_if_git_runs=True) == first

    nested = repo / "pkg" / "vendored"
    nested.mkdir()
    (nested / "lib.py").write_text("v = 1\n")
    git(nested, "init", "-q", "-b", "main")
    inner = _git_in_a_fresh_process(nested, fail_if_git_runs=False)
    assert inner["root"] == str(nested) and inner["commit"] is None


def test_a_damaged_kept_git_file_is_captured_afresh(repo: Path) -> None:
    from labledger.capture import probe

    first = _git_in_a_fresh_process(repo, fail_if_git_runs=False)
    settle()
    _git_in_a_fresh_process(repo, fail_if_git_runs=False)  # kept once settled
    kept = probe.kept_file("git", repo)
    record = json.loads(kept.read_text())
    record["plan"] = ["not", "a", "mapping"]
    kept.write_text(json.dumps(record))
    assert _git_in_a_fresh_process(repo, fail_if_git_runs=False) == first
