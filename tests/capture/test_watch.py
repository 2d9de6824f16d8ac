"""Folder watches: no event means nothing changed; anything doubtful asks the stat check."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from labledger.capture import watch as watch_module
from labledger.capture.watch import FolderWatch, watch_folders

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


class Check:
    """A stat check that records that it was asked and gives a set answer."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answer


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "a.py").write_text("a = 1\n")
    (root / "sub" / "b.py").write_text("b = 1\n")
    return root


def watching(tree: Path) -> FolderWatch:
    watch = watch_folders({tree: None, tree / "sub": None})
    assert watch is not None
    return watch


def test_no_event_needs_no_check(tree: Path) -> None:
    watch, check = watching(tree), Check()

    assert watch.unchanged(check) and watch.unchanged(check)
    assert check.calls == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda t: (t / "a.py").write_text("a = 2\n"),
        lambda t: os.utime(t / "sub" / "b.py", ns=(1, 1)),
        lambda t: os.chmod(t / "a.py", 0o600),
        lambda t: (t / "sub" / "new.py").write_text(""),
        lambda t: (t / "a.py").unlink(),
        lambda t: (t / "sub" / "b.py").rename(t / "sub" / "c.py"),
        lambda t: (t / "newdir").mkdir(),
    ],
    ids=["write", "utime", "chmod", "create", "delete", "rename", "mkdir"],
)
def test_every_kind_of_change_asks_the_check(tree: Path, change: object) -> None:
    watch = watching(tree)
    change(tree)  # type: ignore[operator]
    check = Check()

    assert watch.unchanged(check)
    assert check.calls == 1
    assert watch.unchanged(check) and check.calls == 1  # drained: quiet again


def test_a_failed_check_spends_the_watch(tree: Path) -> None:
    watch = watching(tree)
    (tree / "a.py").write_text("a = 2\n")

    assert not watch.unchanged(Check(answer=False))
    check = Check()
    assert watch.unchanged(check) and check.calls == 1  # no event, but asked anyway


def test_only_the_names_that_count_in_a_filtered_folder(tree: Path) -> None:
    watch = watch_folders({tree: {"HEAD", "index"}})
    assert watch is not None
    (tree / "ORIG_HEAD").write_text("x\n")
    check = Check()

    assert watch.unchanged(check) and check.calls == 0
    (tree / "index").write_text("changed\n")
    assert watch.unchanged(check) and check.calls == 1


def test_a_folder_swapped_in_under_the_same_path_is_seen(tree: Path, tmp_path: Path) -> None:
    watch = watching(tree)
    shutil.move(tree, tmp_path / "elsewhere")
    shutil.copytree(tmp_path / "elsewhere", tree)
    check = Check()

    assert watch.unchanged(check) and check.calls == 1
    assert watch.unchanged(check) and check.calls == 2  # the root is another folder now


def test_a_removed_folder_is_seen(tree: Path) -> None:
    watch = watching(tree)
    shutil.rmtree(tree / "sub")
    check = Check()

    assert watch.unchanged(check) and check.calls == 1


def test_a_forked_child_does_not_read_the_parents_events(tree: Path) -> None:
    watch = watching(tree)
    pid = os.fork()
    if pid == 0:  # the child: its copy of the watch always asks the check
        code = 0 if not watch.unchanged(lambda: False) else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    (tree / "a.py").write_text("a = 2\n")
    check = Check()

    assert watch.unchanged(check) and check.calls == 1  # the event was left for the parent


def test_no_watch_on_a_file_system_that_is_not_local(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "_local_devices", lambda: set())

    assert watch_folders({tree: None}) is None


def test_no_watch_on_a_missing_folder(tree: Path) -> None:
    assert watch_folders({tree / "missing": None}) is None
