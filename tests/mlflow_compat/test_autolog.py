"""``mlflow.sklearn.autolog()`` on a scikit-learn fit: params, metrics, dataset inputs and the
logged model land in labledger, and the model loads back through MLflow."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mlflow_compat.conftest import Labledger

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")


def test_sklearn_autolog_logs_everything_into_labledger(tracking: Labledger, api: Any) -> None:
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    mlflow.sklearn.autolog()
    try:
        with mlflow.start_run() as run:
            LogisticRegression(max_iter=300).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    run_id = run.info.run_id
    got = mlflow.MlflowClient().get_run(run_id)
    assert got.data.params["max_iter"] == "300"
    assert got.data.metrics["training_accuracy_score"] > 0.9
    assert got.inputs.dataset_inputs, "autolog records the training data as a dataset input"

    view = api.run(run_id)
    assert view.params["max_iter"] == 300
    assert view.metrics["training_accuracy_score"] == got.data.metrics["training_accuracy_score"]
    models = api.store.get_captures(run_id)["mlflow_models"]
    (model_id,) = models
    assert models[model_id]["status"] == "LOGGED_MODEL_READY"
    manifest = api.store.artifacts.get_version(f"mlflow-{run_id}").manifest
    assert f"models/{model_id}/MLmodel" in {e["path"] for e in manifest}

    loaded = mlflow.sklearn.load_model(f"models:/{model_id}")
    assert (loaded.predict(X) == y).mean() > 0.9
