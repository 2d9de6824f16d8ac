"""`labledger export --bundle DIR` and `labledger import labledger DIR`: a project exported
and imported into an empty store is equal run by run, point by point, digest by digest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import labledger as ll
from labledger.cli.main import cli
from labledger.sdk.backend import close_stores


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _record_project(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    for index in range(3):
        with ll.init(
            project="digits",
            config={"lr": 0.1 * (index + 1), "opt": {"name": "adam"}},
            tags=["sweep"],
            notes=f"run {index}",
            group="g1",
        ) as run:
            for step in range(50):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 50}, step=step)
            run.log({"odd": math.nan}, step=3)
            print(f"epoch done {index}")  # console output
            run.summary["f1"] = 0.5 + index / 10
            weights.write_bytes(bytes([index]) * 1000)
            folder = tmp_path / f"ckpt{index}"
            (folder / "sub").mkdir(parents=True)
            (folder / "sub" / "w.txt").write_text(f"w{index}")
            run.log_artifact(
                weights, name="digits-mlp", type="model", aliases=["best"] if index == 1 else []
            )
            run.log_artifact(folder, name=f"ckpt-{index}", type="checkpoint")
            if index == 2:
                run.use_artifact("digits-mlp:v0")
    try:
        with ll.init(project="digits", config={"lr": 9}):
            raise RuntimeError("diverged")
    except RuntimeError:
        pass


def _snapshot() -> dict[str, dict]:
    api = ll.Api()
    out = {}
    for run in api.runs("digits"):
        captures = run.captures()
        captures.pop("origin", None)
        record = dict(run.record.__dict__)
        metrics = record.pop("metrics")
        series = {}
        for key in run.metric_keys():
            s = run.series(key)
            series[key] = (s.steps.tolist(), [repr(v) for v in s.values.tolist()], s.times.tolist())
        out[run.id] = {
            "record": record,
            "metric_summaries": {k: m.__dict__ for k, m in metrics.items()},
            "series": series,
            "captures": captures,
            "output": api.store.read_output(run.id),
            "artifacts": sorted(
                (
                    v.name,
                    v.version,
                    v.type,
                    v.digest,
                    json.dumps(v.manifest),
                    tuple(v.aliases),
                    json.dumps(v.metadata, sort_keys=True),
                )
                for v in api.store.artifacts.produced_by(run.id)
            ),
            "used": sorted((v.name, v.version) for v in api.store.artifacts.used_by(run.id)),
        }
    return out


@pytest.mark.slow
def test_export_bundle_round_trip_is_lossless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABLEDGER_CAPTURE_CONSOLE", "1")
    _record_project(tmp_path)
    before = _snapshot()
    assert len(before) == 4

    bundle = tmp_path / "export-digits"
    assert "exported 4 run(s)" in _invoke("export", "-p", "digits", "--bundle", str(bundle))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == "labledger-export" and manifest["counts"]["runs"] == 4
    assert manifest["counts"]["points"] == pq.read_table(bundle / "metrics.parquet").num_rows
    assert len(list((bundle / "blobs").iterdir())) == 6  # 3 weights + 3 checkpoint files

    close_stores()
    monkeypatch.setenv("LABLEDGER_DIR", str(tmp_path / "empty-store"))
    assert "imported 4 run(s); 0 already present" in _invoke(
        "import", "labledger", str(bundle), "-q"
    )
    after = _snapshot()
    assert after.keys() == before.keys()
    for run_id, expected in before.items():
        for part, value in expected.items():
            assert after[run_id][part] == value, (run_id, part)
    origin = ll.Api().run(next(iter(after))).captures()["origin"]
    assert origin["source"] == "labledger"

    assert "imported 0 run(s); 4 already present" in _invoke(
        "import", "labledger", str(bundle), "-q"
    )
    path = ll.use_artifact("digits-mlp:best")
    assert path.read_bytes() == bytes([1]) * 1000


def test_not_a_bundle_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    result = CliRunner().invoke(cli, ["import", "labledger", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "is not a labledger export bundle" in result.output
