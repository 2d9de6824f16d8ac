"""``labledger.integrations.mlflow``: labledger's capture on MLflow-client runs, one run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mlflow_compat.conftest import Labledger

mlflow = pytest.importorskip("mlflow")


def test_enable_adds_labledger_capture_to_the_same_run(tracking: Labledger, api: Any) -> None:
    import labledger.integrations.mlflow as llm

    before = len(api.runs())
    llm.enable()
    try:
        with mlflow.start_run() as run:
            mlflow.log_metric("x", 1.0)
            llm.wait()
    finally:
        llm.disable()
    captures = api.store.get_captures(run.info.run_id)
    assert {"git", "environment", "host", "command"} <= set(captures)
    assert captures["host"].get("error") is None
    assert len(api.runs()) == before + 1  # one run, not two
    assert mlflow.MlflowClient().get_run(run.info.run_id).data.metrics == {"x": 1.0}
