from __future__ import annotations

import json
from pathlib import Path

import pytest

import labledger as ll
from labledger.cli import render
from tests.cli.conftest import invoke, make_run


def test_show_prints_identity_config_metrics_and_sparklines() -> None:
    run_id = make_run(
        config={"optimizer": {"name": "adam", "lr": 0.001}, "epochs": 3},
        metrics=[{"loss": 1.0 / (i + 1), "acc": i / 10} for i in range(10)],
        name="baseline",
        summary={"f1": 0.75},
        tags=["nightly", "gpu"],
        notes="first try",
    )
    result = invoke("runs", "show", run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"run {run_id}  digits / baseline  finished" in out
    for text in (
        "exit code",
        "nightly, gpu",
        "first try",
        "optimizer.name",
        "adam",
        "optimizer.lr",
        "0.001",
        "epochs",
        "f1",
        "0.75",
        "last step",
    ):
        assert text in out, text
    loss_row = next(line for line in out.splitlines() if line.startswith("loss"))
    # final, min, max, count, last step, then the history going down
    assert loss_row.split()[1:6] == ["0.1", "0.1", "1.0", "10", "9"]
    assert loss_row.split()[-1][0] == render.SPARK_BLOCKS[-1]
    assert loss_row.split()[-1][-1] == render.SPARK_BLOCKS[0]


def test_show_failed_run_has_error_tail() -> None:
    run_id = make_run(metrics=[{"loss": 1.0}], fail="exploded at step 3")
    result = invoke("runs", "show", run_id)
    assert "failed" in result.stdout
    assert "RuntimeError: exploded at step 3" in result.stdout
    assert any(line.split() == ["exit", "code", "1"] for line in result.stdout.splitlines())


def test_show_json_has_everything() -> None:
    run_id = make_run(config={"lr": 0.1}, metrics=[{"loss": 2.0}, {"loss": 1.0}])
    result = invoke("runs", "show", run_id[:5], "--json")
    data = json.loads(result.stdout)
    assert data["run_id"] == run_id
    assert data["config"] == {"lr": 0.1}
    assert data["metrics"] == {"loss": 1.0}
    assert data["metric_stats"]["loss"] == {
        "last": 1.0,
        "min": 1.0,
        "max": 2.0,
        "count": 2,
        "last_step": 1,
        "last_time": data["metric_stats"]["loss"]["last_time"],
    }
    assert data["captures"]["run"]["config_source"] == "dict"
    assert "artifacts" in data  # None until the artifact registry answers


def test_run_reference_by_prefix_name_and_ambiguity() -> None:
    by_first: dict[str, list[str]] = {}
    # run IDs are random: record runs until two share their first character and another
    # run has a first character of its own
    while not (any(len(v) > 1 for v in by_first.values()) and len(by_first) > 1):
        run_id = make_run(name=f"run-{sum(map(len, by_first.values()))}")
        by_first.setdefault(run_id[0], []).append(run_id)
    first, second = next(v for v in by_first.values() if len(v) > 1)[:2]
    unique_prefix = next(v[0] for k, v in by_first.items() if k != first[0])[:2]
    assert invoke("runs", "show", unique_prefix).exit_code == 0
    assert invoke("runs", "show", "run-0").exit_code == 0  # a unique name

    ambiguous = invoke("runs", "show", first[0])
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr.startswith("Error: ")
    assert "matches several runs" in ambiguous.stderr
    assert first in ambiguous.stderr and second in ambiguous.stderr


def test_show_unknown_run() -> None:
    make_run()
    result = invoke("runs", "show", "nosuchrun")
    assert result.exit_code == 1
    assert result.stderr == "Error: no run matches 'nosuchrun'\n"


def test_show_lists_artifacts_produced_and_consumed(tmp_path: Path) -> None:
    model = tmp_path / "model.txt"
    model.write_text("weights")
    try:
        with ll.init(project="digits", capture=False) as run:
            producer = run.id
            version = run.log_artifact(model, name="digits-model", type="model")
    except NotImplementedError:
        pytest.skip("artifacts are not implemented yet")
    with ll.init(project="digits", capture=False) as run:
        consumer = run.id
        run.use_artifact("digits-model", dest=str(tmp_path / "fetched"))

    produced = invoke("runs", "show", producer)
    row = next(line for line in produced.stdout.splitlines() if line.startswith("produced"))
    assert row.split()[:3] == ["produced", version.ref, "model"]
    data = json.loads(invoke("runs", "show", consumer, "--json").stdout)
    assert [a["ref"] for a in data["artifacts"]["consumed"]] == [version.ref]
    assert data["artifacts"]["produced"] == []


def test_show_capture_section_that_failed_shows_its_error() -> None:
    from labledger.cli.show import _captures

    (table,) = _captures({"git": {"error": "git timed out after 10s"}})
    console = render.make_console()
    with console.capture() as captured:
        console.print(table)
    assert "git timed out after 10s" in captured.get()
    assert "commit" not in captured.get()


def test_show_parts_diff_packages_and_output() -> None:
    import time

    run_id = make_run()
    store = ll.Api().store
    store.put_captures(
        run_id,
        {
            "git": {
                "present": True,
                "commit": "abc123" * 6,
                "diff": "--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-LR = 1\n+LR = 2\n",
                "untracked": {"helpers.py": "x = 1\n"},
                "untracked_skipped": {"data.bin": "binary"},
            },
            "environment": {
                "packages": {"numpy": "2.1.0", "torch": "2.13.0", "mylib": "0.1"},
                "installs": {"mylib": {"kind": "editable", "path": "/src/mylib"}},
            },
        },
    )
    store.append_output(run_id, [("stdout", time.time(), f"line {i}\n") for i in range(30)])

    diff = invoke("runs", "show", run_id, "--diff").stdout
    assert "+LR = 2" in diff and "helpers.py" in diff and "data.bin not recorded: binary" in diff
    packages = invoke("runs", "show", run_id, "--packages").stdout
    assert "numpy" in packages and "(editable /src/mylib)" in packages
    only = invoke("runs", "show", run_id, "--packages", "t*").stdout
    assert "torch" in only and "numpy" not in only
    output = invoke("runs", "show", run_id, "--output", "--tail", "2").stdout
    assert output.splitlines() == ["line 28", "line 29"]
