"""XGBoost and LightGBM callbacks: a few boosting rounds on a small synthetic regression."""

from __future__ import annotations

import hashlib

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

import labledger as ll
from labledger.integrations.lightgbm import LabledgerCallback as LightgbmCallback
from labledger.integrations.xgboost import LabledgerCallback as XgboostCallback


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + rng.normal(scale=0.1, size=200)
    return X[:150], y[:150], X[150:], y[150:]


def _model_bytes(run_id: str) -> tuple[str, bytes]:
    (version,) = ll.Api().store.artifacts.produced_by(run_id)
    path = ll.use_artifact(version.ref)
    file = path if path.is_file() else next(path.iterdir())
    return version.digest, file.read_bytes()


def test_xgboost_records_params_per_round_metrics_and_booster(data) -> None:
    X, y, Xv, yv = data
    dtrain, dval = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
    history: dict = {}
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 2, "eta": 0.3, "eval_metric": "rmse"},
        dtrain,
        num_boost_round=5,
        evals=[(dtrain, "train"), (dval, "val")],
        evals_result=history,
        callbacks=[XgboostCallback(project="boost")],
    )
    (run,) = ll.runs("boost")
    assert run.status == "finished"
    assert run.params["xgboost.max_depth"] == 2 and run.params["xgboost.eta"] == 0.3
    assert run.params["xgboost.objective"] == "reg:squarederror"
    for data_name in ("train", "val"):
        steps, values = run.history(f"{data_name}/rmse")
        assert steps.tolist() == [0, 1, 2, 3, 4]
        assert np.allclose(values, history[data_name]["rmse"])
    digest, raw = _model_bytes(run.id)
    assert digest == hashlib.sha256(raw).hexdigest()
    restored = xgb.Booster()
    restored.load_model(bytearray(raw))
    assert np.allclose(restored.predict(dval), booster.predict(dval))


def test_lightgbm_records_params_per_iteration_metrics_and_booster(data) -> None:
    X, y, Xv, yv = data
    train = lgb.Dataset(X, label=y)
    val = lgb.Dataset(Xv, label=yv, reference=train)
    history: dict = {}
    params = {"objective": "regression", "num_leaves": 7, "learning_rate": 0.2, "verbose": -1}
    booster = lgb.train(
        params,
        train,
        num_boost_round=6,
        valid_sets=[val],
        valid_names=["val"],
        callbacks=[lgb.record_evaluation(history), LightgbmCallback(project="boost")],
    )
    (run,) = ll.runs("boost")
    assert run.status == "finished"
    assert run.params["lightgbm.num_leaves"] == 7 and run.params["lightgbm.learning_rate"] == 0.2
    steps, values = run.history("val/l2")
    assert steps.tolist() == list(range(6))
    assert np.allclose(values, history["val"]["l2"])
    digest, raw = _model_bytes(run.id)
    assert digest == hashlib.sha256(raw).hexdigest()
    restored = lgb.Booster(model_str=raw.decode())
    assert np.allclose(restored.predict(Xv), booster.predict(Xv))
