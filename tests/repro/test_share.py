"""``labledger share``: a pasteable summary in text or Markdown, with a link when configured."""

from __future__ import annotations

from pathlib import Path

import pytest

import labledger as ll
from labledger.cli.repro import share
from labledger.sdk.fingerprint import short
from tests.repro.conftest import commit_all, invoke, make_run


def test_text_summary(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "train.py").write_text("x = 1\n")
    head = commit_all(repo, "init")
    (repo / "train.py").write_text("x = 2\n")
    monkeypatch.chdir(repo)
    with ll.init(project="digits", name="baseline", seed=1) as run:
        run.log({"loss": 0.25, "system/cpu": 50.0})
        run.summary["acc"] = 0.9125
    result = invoke(share, run.id)
    assert result.exit_code == 0
    fingerprint = short(ll.Api().store.get_run(run.id).fingerprint)
    lines = result.stdout.splitlines()
    assert (
        lines[:3]
        == [
            f"Run {run.id} 'baseline' (digits, finished)",
            "Metrics: acc=0.9125, loss=0.25",  # the summary first; system/* left out
            f"Commit: {head[:12]} + uncommitted changes",
        ]
    )
    # determinism warns too when torch is installed (seed_everything imports it)
    assert lines[3].startswith("Check: warn: ")
    assert "; code (warn), data (warn), weights (warn)" in lines[3]
    assert lines[4:] == [f"Fingerprint: {fingerprint}"]


def test_markdown_with_a_server_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABLEDGER_SERVER_URL", "https://ledger.example.com/")
    run_id = make_run(project="p", summary={"val/acc": 0.5, "note": "a|b"}, seed=1)
    result = invoke(share, run_id, "--markdown")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith(f"**Run [{run_id}](https://ledger.example.com/runs/{run_id})**")
    assert "| val/acc | 0.5 |" in out and "| note | a\\|b |" in out
    assert "- Commit: `not recorded`" in out
    assert "- Check: fail: " in out and "code (fail)" in out
    assert f"- Fingerprint: `{short(ll.Api().store.get_run(run_id).fingerprint)}`" in out


def test_a_reproduction_names_its_original() -> None:
    original = make_run(seed=1)
    with ll.init(project="p", reproduces=original, seed=1, capture=False) as run:
        run.log({"loss": 1.0})
    assert f"Reproduces: {original}" in invoke(share, run.id).stdout
