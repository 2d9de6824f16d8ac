"""``labledger compare``, ``importance`` and ``report`` over runs recorded through the SDK."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from tests.analysis.sweeps import seed_only, sweep
from tests.cli.conftest import invoke, make_run


def _optimizer_runs() -> list[str]:
    rng = np.random.default_rng(0)
    ids = []
    for i, optimizer in enumerate(["adam", "sgd"] * 5):
        acc = (0.91 if optimizer == "adam" else 0.87) + rng.normal(0, 0.003)
        ids.append(
            make_run(
                "opt",
                {"optimizer": optimizer, "seed": i},
                [{"val/acc": acc - 0.2, "loss": 1.0}, {"val/acc": acc, "loss": 1 - acc}],
            )
        )
    return ids


def test_compare_runs_by_id_prefix_is_seed_noise() -> None:
    configs, values = seed_only(8)
    ids = [make_run("seeds", c, [{"val/acc": v}]) for c, v in zip(configs, values, strict=True)]
    result = invoke("compare", *[i[:6] for i in ids], "--metric", "val/acc")
    assert result.exit_code == 0, result.stderr
    assert "NOISE" in result.stdout and "within seed noise" in result.stdout
    assert "all runs" in result.stdout


def test_compare_by_key_says_real_and_json_matches_the_api() -> None:
    _optimizer_runs()
    result = invoke("compare", "-p", "opt", "-m", "val/acc", "--by", "config.optimizer")
    assert result.exit_code == 0, result.stderr
    assert "REAL" in result.stdout
    assert re.search(r"adam beats sgd on val/acc in \d+% of bootstrap resamples", result.stdout)
    assert "(n=5 vs 5)" in result.stdout
    data = json.loads(
        invoke("compare", "-p", "opt", "-m", "val/acc", "--by", "optimizer", "--json").stdout
    )
    assert data["verdict"] == "real" and data["best"] == "adam"
    lower = json.loads(
        invoke(
            "compare",
            "-p",
            "opt",
            "-m",
            "val/acc",
            "--by",
            "optimizer",
            "--lower-is-better",
            "--json",
        ).stdout
    )
    assert lower["best"] == "sgd"


def test_compare_errors_are_one_line() -> None:
    _optimizer_runs()
    for args, message in [
        (("compare", "-p", "opt", "-m", "nope"), "no chosen run has a numeric metric 'nope'"),
        (("compare", "-m", "val/acc"), "no runs chosen"),
        (("compare", "zzzzzz", "-m", "val/acc"), "zzzzzz"),
        (("compare", "-p", "opt", "-m", "val/acc", "--by", "colour"), "config key 'colour'"),
        (("compare", "-p", "opt", "-m", "val/acc", "-f", "config.x >"), "filter"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_importance_table_warning_and_json() -> None:
    configs, values = sweep(14)
    for c, v in zip(configs, values, strict=True):
        make_run("sweep", c, [{"val/acc": v}])
    result = invoke("importance", "--project", "sweep", "--metric", "val/acc", "--explain")
    assert result.exit_code == 0, result.stderr
    assert "optim.lr" in result.stdout and "optim.name" in result.stdout
    assert "Warning: Only 14 runs" in result.stdout
    assert "random forest" in result.stdout
    data = json.loads(invoke("importance", "-p", "sweep", "-m", "val/acc", "--json").stdout)
    assert data["n_runs"] == 14 and len(data["keys"]) == 9


def test_report_is_self_contained_and_contains_the_data(tmp_path: Path) -> None:
    ids = _optimizer_runs()
    evil = make_run(
        "opt",
        {"optimizer": "<img src=x onerror=alert(1)>", "seed": 99},
        [{"val/acc": 0.5}],
        name="<script>alert('x')</script>",
    )
    out = tmp_path / "report.html"
    result = invoke(
        "report", *ids[:6], evil[:6], "-o", str(out), "--metric", "val/acc", "--by", "optimizer"
    )
    assert result.exit_code == 0, result.stderr
    assert f"Wrote {out}" in result.stdout
    page = out.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "default-src 'none'" in html.unescape(page)  # the CSP forbids every request
    # the malicious name and value appear only as text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script") == 2  # the JSON data and the one inline script
    # the data is inline and complete
    blob = re.search(
        r'<script type="application/json" id="labledger-data">(.*?)</script>', page, re.S
    )
    assert blob is not None
    data = json.loads(blob.group(1))
    assert {r["id"] for r in data["runs"]} == {*ids[:6], evil}
    assert data["runs"][0]["check"]["verdict"] in ("pass", "warn", "fail")
    assert "val/acc" in data["series"] and len(data["series"]["val/acc"]) == 7
    assert data["significance"]["by"] == "optimizer"
    assert "keys" in data["importance"]
    for section in ("Is the difference real?", "Parameter importance", "Reproducibility checks"):
        assert section in page
    assert "<polyline" in page


def test_report_by_project_and_errors(tmp_path: Path) -> None:
    _optimizer_runs()
    out = tmp_path / "p.html"
    assert invoke("report", "-p", "opt", "-o", str(out)).exit_code == 0
    assert "adam beats sgd" not in out.read_text() or "optimizer=adam" in out.read_text()
    missing = invoke("report", "-p", "nothing-here", "-o", str(out))
    assert missing.exit_code == 1 and "no runs match" in missing.stderr
    bad_dir = invoke("report", "-p", "opt", "-o", str(tmp_path / "no" / "such" / "r.html"))
    assert bad_dir.exit_code == 1 and "cannot write" in bad_dir.stderr
