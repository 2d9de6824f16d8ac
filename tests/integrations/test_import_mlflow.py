"""`labledger import mlflow`: runs written by the real mlflow package into a temporary SQLite
store, imported and compared param by param, tag by tag, point by point, digest by digest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import labledger as ll
from labledger.cli.main import cli


@pytest.fixture
def mlflow_store(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = tmp_path / "mlartifacts"
    for experiment, runs in (("digits", 2), ("text", 1)):
        exp_id = client.create_experiment(
            experiment, artifact_location=(artifacts / experiment).as_uri()
        )
        for index in range(runs):
            run = client.create_run(
                exp_id,
                run_name=f"{experiment}-{index}",
                tags={"team": "vision", "mlflow.note.content": "a note"},
            )
            rid = run.info.run_id
            client.log_param(rid, "lr", str(0.1 * (index + 1)))
            client.log_param(rid, "optimizer", "adam")
            client.log_param(rid, "weight_decay", "1e-4")
            for step in range(3):
                client.log_metric(
                    rid,
                    "loss",
                    1.0 / (step + 1 + index),
                    step=step,
                    timestamp=1_700_000_000_000 + step * 1000,
                )
            client.log_metric(rid, "acc", 0.9 + index / 100, step=0)
            source = tmp_path / f"files-{rid}"
            (source / "plots").mkdir(parents=True)
            (source / "model.txt").write_text(f"weights of {rid}")
            (source / "plots" / "curve.csv").write_text("step,loss\n0,1.0\n")
            client.log_artifacts(rid, str(source))
            client.set_terminated(rid, status="FAILED" if experiment == "text" else "FINISHED")
    return uri


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_mlflow_is_complete_and_idempotent(mlflow_store: str, tmp_path: Path) -> None:
    assert "imported 3 run(s); 0 already present" in _invoke("import", "mlflow", mlflow_store, "-q")
    client = MlflowClient(tracking_uri=mlflow_store)
    api = ll.Api()
    for experiment in client.search_experiments():
        for source in client.search_runs([experiment.experiment_id]):
            (run,) = [
                r
                for r in api.runs(experiment.name)
                if r.captures()["origin"]["run_id"] == source.info.run_id
            ]
            origin = run.captures()["origin"]
            assert origin["source"] == "mlflow" and origin["complete"] is True
            assert run.name == source.info.run_name
            assert run.status == source.info.status.lower()
            assert run.record.created_at == source.info.start_time / 1000
            # every param, in its original spelling, and as a number where that is exact
            assert {k: str(v) if k != "weight_decay" else v for k, v in run.config.items()} == {
                k: v for k, v in source.data.params.items()
            }
            assert run.config["lr"] == float(source.data.params["lr"])
            assert origin["params"] == source.data.params
            assert origin["tags"] == source.data.tags
            assert "team=vision" in run.record.tags and run.record.notes == "a note"
            for key in source.data.metrics:
                history = client.get_metric_history(source.info.run_id, key)
                series = run.series(key)
                assert series.steps.tolist() == [m.step for m in history]
                assert series.values.tolist() == [m.value for m in history]
                assert series.times.tolist() == [m.timestamp / 1000 for m in history]
            (version,) = api.store.artifacts.produced_by(run.id)
            local = Path(client.download_artifacts(source.info.run_id, "", str(tmp_path / "dl")))
            expected = {
                str(p.relative_to(local)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in local.rglob("*")
                if p.is_file()
            }
            assert {e["path"]: e["digest"] for e in version.manifest} == expected
            assert run.record.fingerprint is None  # nothing to seal: no code, packages or seeds

    assert "imported 0 run(s); 3 already present" in _invoke("import", "mlflow", mlflow_store, "-q")
    assert api.count_runs() == 3


def test_import_mlflow_resumes_an_interrupted_import(mlflow_store: str) -> None:
    from labledger.cli.import_mlflow import MlflowSource
    from labledger.sdk.importing import Importer

    source = MlflowSource(mlflow_store)
    (source_id, experiment, handle), *_ = list(source.run_ids())
    run = source.load(source_id, experiment, handle, Path("."))
    run.artifacts.clear()
    importer = Importer(ll.Api())
    run_id = importer.run_id(run)
    importer.store.create_run(run.record.__class__(**{**run.record.__dict__, "run_id": run_id}))
    assert not importer.is_imported(run_id)  # created, but cut off before its data landed
    assert "imported 3 run(s); 0 already present" in _invoke("import", "mlflow", mlflow_store, "-q")
    assert importer.is_imported(run_id)
    assert len(ll.Api().run(run_id).history("loss")[0]) == 3


def test_a_missing_store_is_one_line() -> None:
    result = CliRunner().invoke(cli, ["import", "mlflow", "no/such/mlruns"])
    assert result.exit_code == 1
    assert "no MLflow store at no/such/mlruns" in result.output
