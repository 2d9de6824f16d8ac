from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke, make_run

pd = pytest.importorskip("pandas")


@pytest.fixture
def two_runs() -> tuple[str, str]:
    a = make_run(
        config={"lr": 0.1, "opt": {"name": "adam"}},
        metrics=[{"loss": 1.0}, {"loss": 0.5}],
        tags=["a", "b"],
    )
    b = make_run(
        config={"lr": 0.01, "opt": {"name": "sgd"}},
        metrics=[{"loss": 2.0}, {"loss": 0.25}, {"loss": 0.125}],
    )
    make_run(project="other", config={"x": 1})
    return a, b


def test_export_csv_round_trip(two_runs: tuple[str, str], tmp_path: Path) -> None:
    a, b = two_runs
    out = tmp_path / "runs.csv"
    result = invoke("export", "-p", "digits", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "wrote 2 run(s) x " in result.stderr and f"as csv to {out} (" in result.stderr
    frame = pd.read_csv(out)
    assert f"x {len(frame.columns)} column(s)" in result.stderr
    assert list(frame["run_id"]) == [b, a]  # newest first
    assert {
        "project",
        "name",
        "status",
        "created_at",
        "runtime",
        "config.lr",
        "config.opt.name",
        "metrics.loss",
    } <= set(frame.columns)
    assert list(frame["config.lr"]) == [0.01, 0.1]
    assert list(frame["config.opt.name"]) == ["sgd", "adam"]
    assert list(frame["metrics.loss"]) == [0.125, 0.5]
    assert frame.loc[frame.run_id == a, "tags"].item() == "a,b"
    assert pd.to_datetime(frame["created_at"]).notna().all()


def test_export_csv_to_stdout_with_filter_and_sort(two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    result = invoke("export", "-f", "config.lr > 0.001", "-s", "config.lr")
    frame = pd.read_csv(io.StringIO(result.stdout))  # the stdout is the data alone
    assert "wrote 2 run(s)" in result.stderr and "to stdout" in result.stderr
    assert list(frame["run_id"]) == [b, a]


def test_export_parquet_file_and_stdout(two_runs: tuple[str, str], tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    a, b = two_runs
    out = tmp_path / "runs.parquet"
    assert invoke("export", "-p", "digits", "-o", str(out)).exit_code == 0  # format from suffix
    frame = pd.read_parquet(out)
    assert list(frame["run_id"]) == [b, a]
    assert list(frame["metrics.loss"]) == [0.125, 0.5]
    assert frame["created_at"].dtype.kind == "M"

    piped = invoke("export", "-p", "digits", "--format", "parquet", "-o", "-")
    assert list(pd.read_parquet(io.BytesIO(piped.stdout_bytes))["run_id"]) == [b, a]


def test_export_parquet_with_mixed_config_types(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    make_run(config={"x": 1, "layers": [64, 32], "mix": [1, "a"]})
    make_run(config={"x": "auto", "layers": [8], "mix": [2, "b"]})
    out = tmp_path / "mixed.parquet"
    result = invoke("export", "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert sorted(frame["config.x"]) == ["1", "auto"]
    assert sorted(frame["config.mix"]) == ['[1, "a"]', '[2, "b"]']


def test_export_parquet_without_pyarrow_names_the_extra(
    two_runs: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = invoke("export", "--format", "parquet", "-o", str(tmp_path / "x.parquet"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: pyarrow is not installed; run: pip install 'labledger[pandas]'\n"
    )


def test_export_json_and_jsonl(two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    records = json.loads(invoke("export", "-p", "digits", "--format", "json").stdout)
    assert [r["run_id"] for r in records] == [b, a]
    lines = invoke("export", "-p", "digits", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["config.lr"] for line in lines] == [0.01, 0.1]


def test_export_history_long_form(two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    result = invoke("export", "-p", "digits", "--history", "loss")
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["run_id", "key", "step", "value", "time"]
    assert list(frame.loc[frame.run_id == b, "value"]) == [2.0, 0.25, 0.125]
    assert list(frame.loc[frame.run_id == a, "step"]) == [0, 1]
    assert set(frame["key"]) == {"loss"}
    none = invoke("export", "--history", "nosuchmetric")
    assert pd.read_csv(io.StringIO(none.stdout)).empty


def test_export_no_runs_writes_a_header(tmp_path: Path) -> None:
    make_run()
    result = invoke("export", "-f", "status = 'failed'")
    assert result.stdout.startswith("run_id,project,name,status")


def test_export_to_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    make_run()
    for name in ("x.csv", "x.parquet"):
        result = invoke("export", "-o", str(tmp_path / "missing" / name))
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: cannot write ")
        assert len(result.stderr.splitlines()) == 1
