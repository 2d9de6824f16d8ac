"""``labledger.sdk.diff``: the pure comparison behind ``runs diff`` (and reproduce/verify)."""

from __future__ import annotations

import json
import math
from typing import Any

from labledger.sdk.diff import MISSING, Change, DiffEntry, diff_runs, diff_snapshots
from tests.cli.conftest import make_run


def _snapshot(**sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base: dict[str, dict[str, Any]] = {"run": {"status": "finished"}, "config": {}, "metrics": {}}
    return {**base, **sections}


def test_packages_added_removed_and_changed() -> None:
    a = _snapshot(packages={"numpy": "1.26.4", "torch": "2.1.0", "tqdm": "4.66.0"})
    b = _snapshot(packages={"numpy": "2.0.0", "pandas": "2.2.0", "tqdm": "4.66.0"})
    diff = diff_snapshots(a, b, "aaa", "bbb")
    packages = diff.section("packages")
    assert [tuple(e) for e in packages.entries] == [
        ("numpy", "1.26.4", "2.0.0"),
        ("pandas", MISSING, "2.2.0"),
        ("torch", "2.1.0", MISSING),
        ("tqdm", "4.66.0", "4.66.0"),
    ]
    assert [e.change for e in packages.entries] == [
        Change.CHANGED,
        Change.ADDED,
        Change.REMOVED,
        Change.SAME,
    ]
    assert [e.key for e in packages.differences] == ["numpy", "pandas", "torch"]
    only = diff.only_differences()
    assert only.section("packages").get("tqdm") is None
    assert only.section("config").entries == ()
    assert "config" not in only.differences


def test_value_equality_rules() -> None:
    assert not DiffEntry("k", math.nan, math.nan).differs
    assert not DiffEntry("k", 1, 1.0).differs
    assert DiffEntry("k", True, 1).differs
    assert DiffEntry("k", None, MISSING).change is Change.REMOVED
    assert DiffEntry("k", [1, 2], [1, 2]).change is Change.SAME
    assert DiffEntry("acc", 0.5, 0.75).delta == 0.25
    assert DiffEntry("name", "a", "b").delta is None
    assert DiffEntry("flag", False, True).delta is None


def test_section_recorded_by_one_run_only() -> None:
    a = _snapshot(git={"commit": "abc", "dirty": False})
    diff = diff_snapshots(a, _snapshot())
    git = diff.section("git")
    assert git.absent_in == "b"
    assert [e.change for e in git.entries] == [Change.REMOVED, Change.REMOVED]


def test_capture_sections_keep_their_order_and_json_form() -> None:
    a = _snapshot(git={"present": True, "commit": "abc", "branch": "main"})
    b = _snapshot(git={"present": True, "commit": "def", "remote_url": "u", "branch": "main"})
    diff = diff_snapshots(a, b, "x", "y")
    assert [e.key for e in diff.section("git").entries] == [
        "present",
        "commit",
        "branch",
        "remote_url",
    ]
    data = json.loads(json.dumps(diff.only_differences().to_dict()))
    assert data["a"] == "x" and data["b"] == "y"
    assert data["sections"]["git"] == [
        {"key": "commit", "a": "abc", "b": "def", "change": "changed"},
        {"key": "remote_url", "a": None, "b": "u", "change": "added"},
    ]


def test_diff_runs_reads_config_metrics_and_status() -> None:
    import labledger as ll

    a = make_run(config={"opt": {"lr": 0.1}, "seed": 1}, metrics=[{"acc": 0.5}], tags=["x"])
    b = make_run(
        config={"opt": {"lr": 0.2}, "seed": 1, "extra": True}, metrics=[{"acc": 0.6}], fail="boom"
    )
    api = ll.Api()
    diff = diff_runs(api.run(a), api.run(b))
    assert diff.a_id == a and diff.b_id == b
    changes = {s: {e.key: (e.a, e.b) for e in entries} for s, entries in diff.differences.items()}
    assert changes["config"] == {"extra": (MISSING, True), "opt.lr": (0.1, 0.2)}
    assert changes["metrics"] == {"acc": (0.5, 0.6)}
    assert changes["run"]["status"] == ("finished", "failed")
    assert changes["run"]["exit_code"] == (0, 1)
    assert changes["run"]["tags"] == (["x"], [])
    assert diff.section("config").get("seed") == ("seed", 1, 1)
