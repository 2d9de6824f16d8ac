"""The MLflow endpoint over PostgreSQL: a logged run reads back through labledger's ``Api``."""

from __future__ import annotations

from pathlib import Path

import pytest

from labledger.config import load_settings
from labledger.sdk.api import Api
from tests.mlflow_compat.conftest import _mlflow_env
from tests.server.team import cli_env, start_server

mlflow = pytest.importorskip("mlflow")


@pytest.mark.postgres
def test_mlflow_client_logs_into_a_postgres_server(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--db", postgres_uri, "--artifacts", str(tmp_path / "blobs"), "--no-auth"]
    server = start_server(args, cli_env(tmp_path), tmp_path)
    try:
        _mlflow_env(monkeypatch, server.url)
        mlflow.set_experiment("pg-compat")
        (tmp_path / "note.txt").write_text("on postgres")
        with mlflow.start_run(run_name="pg") as run:
            mlflow.log_params({"lr": "0.001", "batch": 64})
            for step in range(10):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.set_tag("db", "postgres")
            mlflow.log_artifact(str(tmp_path / "note.txt"))
        found = mlflow.MlflowClient().search_runs(
            [run.info.experiment_id], "params.batch = '64' and metrics.loss < 0.2"
        )
        assert [r.info.run_id for r in found] == [run.info.run_id]
        api = Api(settings=load_settings(env={"LABLEDGER_URI": postgres_uri}, cwd=tmp_path))
        view = api.run(run.info.run_id)
        assert view.params == {"lr": 0.001, "batch": 64}
        assert view.series("loss").steps.tolist() == list(range(10))
        assert "db=postgres" in api.store.get_run(run.info.run_id).tags
        manifest = api.store.artifacts.get_version(f"mlflow-{run.info.run_id}").manifest
        assert [e["path"] for e in manifest] == ["note.txt"]
    finally:
        server.stop()
