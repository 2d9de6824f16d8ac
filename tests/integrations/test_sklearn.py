"""scikit-learn autolog against real estimators on the bundled iris data."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import labledger as ll
from labledger.integrations import sklearn as ll_sklearn


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    ll_sklearn.autolog(project="iris")
    yield
    ll_sklearn.autolog(disable=True)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0))  # type: ignore[return-value]


def test_pipeline_fit_records_nested_params_scores_and_model(data) -> None:
    X_train, X_test, y_train, y_test = data
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5))])
    model.fit(X_train, y_train)
    val = model.score(X_test, y_test)

    (run,) = ll.runs("iris")
    assert run.status == "finished"
    assert run.params["estimator"] == "sklearn.Pipeline"
    assert run.params["steps.clf.C"] == 0.5
    assert run.params["steps.clf.estimator"] == "sklearn.LogisticRegression"
    assert run.params["steps.scale.with_mean"] is True
    assert run.metrics["fit_time"] > 0
    assert run.metrics["train/n_samples"] == len(X_train)
    assert run.metrics["train/score"] == pytest.approx(model.score(X_train, y_train))
    assert run.metrics["val/score"] == pytest.approx(val)

    (version,) = ll.Api().store.artifacts.produced_by(run.id)
    assert version.type == "model" and version.metadata["framework"] == "sklearn"
    path = ll.use_artifact(f"{version.name}:v0")
    restored = pickle.loads((path if path.is_file() else path / "model.pkl").read_bytes())
    assert (restored.predict(X_test) == model.predict(X_test)).all()
    assert len(ll.runs("iris")) == 1  # the inner fits (scaler, classifier) made no runs


def test_fit_inside_an_active_run_logs_into_it(data) -> None:
    X_train, _, y_train, _ = data
    with ll.init(project="iris", config={"note": "mine"}) as run:
        RandomForestClassifier(n_estimators=5, oob_score=True, random_state=0).fit(X_train, y_train)
    (view,) = ll.runs("iris")
    assert view.id == run.id
    assert view.config["note"] == "mine" and view.config["n_estimators"] == 5
    assert 0 < view.metrics["val/oob_score"] <= 1


def test_grid_search_is_one_group_with_a_child_per_candidate(data) -> None:
    X_train, _, y_train, _ = data
    search = GridSearchCV(
        LogisticRegression(max_iter=200), {"C": [0.1, 1.0], "fit_intercept": [True, False]}, cv=3
    )
    search.fit(X_train, y_train)

    runs = ll.runs("iris")
    assert len(runs) == 5
    (parent,) = [r for r in runs if "search" in r.record.tags]
    children = [r for r in runs if "candidate" in r.record.tags]
    assert {r.record.group for r in runs} == {parent.record.group}
    assert parent.config["best_params"] == search.best_params_
    assert parent.params["estimator.C"] == 1.0  # the search's base estimator, nested
    assert parent.metrics["val/best_score"] == pytest.approx(search.best_score_)
    by_params = {
        (c.config["params"]["C"], c.config["params"]["fit_intercept"]): c for c in children
    }
    assert len(by_params) == 4
    for index, params in enumerate(search.cv_results_["params"]):
        child = by_params[(params["C"], params["fit_intercept"])]
        steps, values = child.history("test/score")
        assert list(steps) == [0, 1, 2]
        expected = [search.cv_results_[f"split{k}_test_score"][index] for k in range(3)]
        assert np.allclose(values, expected)
        assert child.metrics["mean_test_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][index]
        )
        assert child.metrics["search_run"] == parent.id


def test_disable_stops_recording(data) -> None:
    X_train, _, y_train, _ = data
    ll_sklearn.autolog(disable=True)
    LogisticRegression().fit(X_train, y_train)
    assert len(ll.runs("iris")) == 0
