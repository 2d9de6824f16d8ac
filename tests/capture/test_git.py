from __future__ import annotations

import os
from pathlib import Path

import pytest

from labledger.capture import capture_git
from labledger.capture import git as git_probe
from labledger.capture.redact import strip_url_credentials

from .conftest import GitRunner

pytestmark = pytest.mark.usefixtures("git_env")

BINARY = bytes(range(256)) * 8
LATIN1 = "café, naïve, Ærø\n".encode("latin-1")


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("lr = 0.1\nepochs = 3\n")
    (root / "weights.bin").write_bytes(BINARY)
    (root / "latin.txt").write_bytes(LATIN1)
    (root / "old.py").write_text("print('old')\n")
    (root / ".gitignore").write_text("ignored.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", "https://alice:s3cret-token@example.com/org/repo.git")
    return root


def test_clean_repo(repo: Path, git: GitRunner) -> None:
    info = capture_git(repo)

    assert info["present"] is True
    assert info["root"] == str(repo.resolve())
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["branch"] == "main"
    assert info["remote"] == "origin"
    assert info["remote_url"] == "https://example.com/org/repo.git"
    assert info["dirty"] is False
    assert info["diff"] == ""
    assert info["untracked"] == {}
    assert info["untracked_skipped"] == {}


def test_secret_never_appears(repo: Path) -> None:
    assert "s3cret" not in repr(capture_git(repo))


def test_upstream_remote_preferred_over_origin(repo: Path, git: GitRunner) -> None:
    git(repo, "remote", "add", "fork", "git@github.com:me/repo.git")
    git(repo, "config", "branch.main.remote", "fork")

    info = capture_git(repo)

    assert (info["remote"], info["remote_url"]) == ("fork", "git@github.com:me/repo.git")


def test_from_subdirectory(repo: Path) -> None:
    sub = repo / "pkg" / "deep"
    sub.mkdir(parents=True)
    (repo / "train.py").write_text("lr = 0.2\n")

    info = capture_git(sub)

    assert info["root"] == str(repo.resolve())
    assert "train.py" in info["diff"]


def test_detached_head_and_new_commits_seen_despite_cache(repo: Path, git: GitRunner) -> None:
    first = capture_git(repo)["commit"]

    (repo / "train.py").write_text("lr = 0.3\n")
    git(repo, "commit", "-q", "-am", "second")
    second = capture_git(repo)
    assert second["commit"] == git(repo, "rev-parse", "HEAD") != first
    assert second["branch"] == "main"

    git(repo, "checkout", "-q", "--detach", first)
    detached = capture_git(repo)
    assert detached["commit"] == first
    assert detached["branch"] is None

    git(repo, "checkout", "-q", "-b", "feature")
    assert capture_git(repo)["branch"] == "feature"


def test_remote_change_seen_despite_cache(repo: Path, git: GitRunner) -> None:
    capture_git(repo)
    git(repo, "remote", "set-url", "origin", "https://bob@example.org/x.git")

    assert capture_git(repo)["remote_url"] == "https://example.org/x.git"


def _tracked_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.mark.parametrize("non_utf8_change", [False, True], ids=["utf8", "latin1"])
def test_diff_reapplies_to_a_fresh_clone(
    repo: Path, tmp_path: Path, git: GitRunner, non_utf8_change: bool
) -> None:
    (repo / "train.py").write_text("lr = 0.01\nepochs = 30\n")
    (repo / "weights.bin").write_bytes(BINARY[::-1] + b"\x00tail")
    (repo / "old.py").unlink()
    (repo / "staged.py").write_text("staged = True\n")
    git(repo, "add", "staged.py")
    if non_utf8_change:
        (repo / "latin.txt").write_bytes(LATIN1 + "déjà vu\n".encode("latin-1"))

    info = capture_git(repo)
    assert info["dirty"] is True
    assert isinstance(info["diff"], str)
    assert "GIT binary patch" in info["diff"]

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", info["commit"])
    patch = tmp_path / "run.patch"
    patch.write_text(info["diff"])
    git(clone, "apply", "--index", str(patch))

    assert _tracked_files(clone) == _tracked_files(repo)


def test_untracked_files(repo: Path) -> None:
    (repo / "notes.md").write_text("# tried lr 0.1\r\nworse ✓\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "helper.py").write_text("x = 1\n")
    (repo / "big.txt").write_text("a" * (256 * 1024 + 1))
    (repo / "blob.dat").write_bytes(b"\x00\x01\x02")
    (repo / "ignored.log").write_text("not recorded\n")

    info = capture_git(repo)

    assert info["dirty"] is True
    assert info["diff"] == ""
    assert info["untracked"] == {
        "notes.md": "# tried lr 0.1\r\nworse ✓\n",
        "sub/helper.py": "x = 1\n",
    }
    assert set(info["untracked_skipped"]) == {"big.txt", "blob.dat"}
    assert "larger than" in info["untracked_skipped"]["big.txt"]
    assert info["untracked_skipped"]["blob.dat"] == "binary"
    assert "ignored.log" not in repr(info)


def test_untracked_total_limit(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(git_probe, "UNTRACKED_TOTAL_LIMIT", 150)
    for name in ("a.txt", "b.txt", "c.txt"):
        (repo / name).write_text(name * 25)  # 125 bytes each

    info = capture_git(repo)

    assert list(info["untracked"]) == ["a.txt"]
    assert set(info["untracked_skipped"]) == {"b.txt", "c.txt"}
    assert all("total" in reason for reason in info["untracked_skipped"].values())


def test_capture_does_not_touch_the_repo(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 5\n")
    os.utime(repo / "weights.bin")  # stat-dirty only: git status would rewrite the index
    index = repo / ".git" / "index"

    def state() -> tuple[bytes, int, list[str]]:
        return index.read_bytes(), index.stat().st_mtime_ns, sorted(os.listdir(repo / ".git"))

    before = state()
    capture_git(repo)

    assert state() == before


def test_repo_without_commits(tmp_path: Path, git: GitRunner) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("a = 1\n")
    git(root, "add", "a.py")

    info = capture_git(root)

    assert info["present"] is True
    assert info["commit"] is None
    assert info["branch"] == "main"
    assert info["remote"] is None
    assert "+a = 1" in info["diff"]


def test_outside_a_repo(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert capture_git(plain) == {"present": False}


def test_without_git_executable(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    assert capture_git(repo) == {"present": False, "reason": "git executable not found"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@host/x", "https://host/x"),
        ("https://ghp_abc123@github.com/org/r.git", "https://github.com/org/r.git"),
        ("http://u:p@host:8080/x?y=1", "http://host:8080/x?y=1"),
        ("ssh://git:pw@host/x.git", "ssh://git@host/x.git"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("https://host/path@v1", "https://host/path@v1"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


def test_diff_over_the_limit_is_not_stored(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(git_probe, "DIFF_LIMIT", 100)
    (repo / "train.py").write_text("lr = 0.5\n" * 50)

    info = capture_git(repo)

    assert info["diff"] is None
    assert "limit" in info["diff_skipped"]
    assert info["dirty"] is True


def test_non_utf8_diff_forced_to_text_is_not_stored_corrupted(repo: Path, git: GitRunner) -> None:
    (repo / ".gitattributes").write_text("latin.txt diff\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-q", "-m", "attributes")
    (repo / "latin.txt").write_bytes(LATIN1 * 2)

    info = capture_git(repo)

    assert info["diff"] is None
    assert "non-UTF-8" in info["diff_skipped"]
