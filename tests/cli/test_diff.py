from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import invoke, make_run


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows by key (markers ``~ + -`` stripped): ``{"lr": ["0.1", "0.2"]}``."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] in ("~", "+", "-"):
            parts = parts[1:]
        if len(parts) >= 3:
            rows[parts[0]] = parts[1:]
    return rows


def test_diff_shows_only_differences_by_default() -> None:
    a = make_run(config={"lr": 0.1, "batch": 32, "opt": "adam"}, metrics=[{"acc": 0.5}])
    b = make_run(config={"lr": 0.2, "batch": 32, "dropout": 0.1}, metrics=[{"acc": 0.75}])
    result = invoke("runs", "diff", a, b)
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert rows["lr"] == ["0.1", "0.2"]
    assert rows["acc"] == ["0.5", "0.75", "+0.25"]
    assert rows["opt"] == ["adam", "—"]
    assert rows["dropout"] == ["—", "0.1"]
    assert "batch" not in result.stdout
    assert f"A {a}" in result.stdout and f"B {b}" in result.stdout

    everything = invoke("runs", "diff", a, b, "--all")
    assert _rows(everything.stdout)["batch"] == ["32", "32"]


def test_diff_sections_and_json() -> None:
    a = make_run(config={"lr": 0.1}, metrics=[{"acc": 0.5}])
    b = make_run(config={"lr": 0.2}, metrics=[{"acc": 0.5}])
    only_config = invoke("runs", "diff", a, b, "--section", "config")
    assert "Config" in only_config.stdout and "Final metrics" not in only_config.stdout

    data = json.loads(invoke("runs", "diff", a, b, "--json").stdout)
    assert data["a"] == a and data["b"] == b
    assert data["sections"]["config"] == [{"key": "lr", "a": 0.1, "b": 0.2, "change": "changed"}]
    assert "metrics" not in data["sections"]  # equal, so left out without --all
    full = json.loads(invoke("runs", "diff", a, b, "--json", "--all").stdout)
    assert full["sections"]["metrics"] == [{"key": "acc", "a": 0.5, "b": 0.5, "change": "same"}]


def test_diff_identical_configs_says_so() -> None:
    a = make_run(config={"lr": 0.1})
    b = make_run(config={"lr": 0.1})
    result = invoke("runs", "diff", a, b, "-s", "config")
    assert "No differences in config." in result.stdout


def test_diff_unknown_run_is_an_error() -> None:
    a = make_run()
    result = invoke("runs", "diff", a, "nosuchrun")
    assert result.exit_code == 1
    assert result.stderr == "Error: no run matches 'nosuchrun'\n"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=T",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_diff_with_capture_compares_git_and_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("labledger.capture")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    monkeypatch.chdir(repo)

    a = make_run(config={"lr": 0.1}, capture=True)
    (repo / "train.py").write_text("lr = 0.2\n")
    b = make_run(config={"lr": 0.2}, capture=True)

    data = json.loads(invoke("runs", "diff", a, b, "--json").stdout)
    git = {e["key"]: e for e in data["sections"]["git"]}
    assert git["dirty"]["a"] is False and git["dirty"]["b"] is True
    assert git["diff_digest"]["a"] is None and git["diff_digest"]["b"].startswith("sha256:")
    assert "commit" not in git  # same commit
    assert "packages" not in data["sections"]  # same interpreter, same packages

    table = invoke("runs", "diff", a, b)
    assert "Git (" in table.stdout and "dirty" in table.stdout
    packages = invoke("runs", "diff", a, b, "--all", "-s", "packages")
    assert "click" in packages.stdout

    show = invoke("runs", "show", b)
    for text in ("Git", "branch", "main", "dirty", "Python environment", "packages", "Host"):
        assert text in show.stdout, text
