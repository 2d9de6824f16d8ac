from __future__ import annotations

import math

import numpy as np
import pytest

from labledger.analysis import ForestOptions, parameter_importance
from labledger.analysis.importance import TRUST_RUNS, critical_correlation
from labledger.errors import LabledgerError
from tests.analysis.sweeps import NOISE_KEYS, sweep


@pytest.fixture(scope="module")
def ranked():  # one computation shared by the assertions on the sweep
    configs, values = sweep()
    return parameter_importance(configs, values, "val/acc", seed=0)


def test_two_keys_that_matter_rank_first_with_intervals_excluding_zero(ranked) -> None:
    top = [k.key for k in ranked.keys[:2]]
    assert set(top) == {"optim.lr", "optim.name"}
    for key in ranked.keys[:2]:
        assert key.importance_ci is not None and key.importance_ci[0] > 0
    assert ranked.warning is None
    assert ranked.n_runs == 60


def test_keys_that_do_not_matter_have_small_importance(ranked) -> None:
    by_key = {k.key: k for k in ranked.keys}
    assert len(ranked.keys) == 9  # eight config keys and the seed
    for name in (*NOISE_KEYS, "optim.momentum", "seed"):
        key = by_key[name]
        assert key.importance is not None and key.importance < 0.05
        assert key.importance_ci is not None and key.importance_ci[0] < 0.02


def test_nested_categorical_and_boolean_kinds(ranked) -> None:
    kinds = {k.key: k.kind for k in ranked.keys}
    assert kinds["optim.name"] == "categorical"
    assert kinds["optim.lr"] == "numeric"
    assert kinds["warmup"] == "boolean"
    name = next(k for k in ranked.keys if k.key == "optim.name")
    assert name.correlation is not None and 0 < name.correlation <= 1  # η has no sign
    assert name.correlation_ci is not None and name.correlation_ci[0] > 0


def test_correlation_sign_and_interval() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 40)
    configs = [
        {"a": float(v), "b": float(w)} for v, w in zip(x, rng.uniform(0, 1, 40), strict=True)
    ]
    values = list(-3 * x + rng.normal(0, 0.1, 40))
    result = parameter_importance(configs, values, "loss", seed=1)
    a = next(k for k in result.keys if k.key == "a")
    b = next(k for k in result.keys if k.key == "b")
    assert a.correlation is not None and a.correlation < -0.9
    assert a.correlation_ci is not None and a.correlation_ci[1] < -0.8
    assert b.correlation_ci is not None and b.correlation_ci[0] < 0 < b.correlation_ci[1]
    pearson = parameter_importance(configs, values, "loss", correlation="pearson", seed=1)
    assert next(k for k in pearson.keys if k.key == "a").correlation < -0.9  # type: ignore[operator]


def test_constant_identifier_and_missing_keys() -> None:
    configs, values = sweep(30)
    for i, config in enumerate(configs):
        config["dataset"] = "mnist"  # constant: dropped
        config["out_dir"] = f"/runs/{i}"  # an identifier: dropped
        if i % 3 == 0:
            del config["dropout"]  # missing in a third of the runs
    result = parameter_importance(configs, values, "val/acc")
    dropped = {d.key: d.reason for d in result.dropped}
    assert dropped["dataset"] == "constant"
    assert "identifier" in dropped["out_dir"]
    dropout = next(k for k in result.keys if k.key == "dropout")
    assert dropout.missing == 10 and dropout.correlation is not None


def test_key_set_in_some_runs_only_is_categorical() -> None:
    configs = [{"a": float(i), **({"flag": 1} if i % 2 else {})} for i in range(24)]
    values = [float(i % 2) + 0.01 * i for i in range(24)]
    result = parameter_importance(configs, values, "acc")
    flag = next(k for k in result.keys if k.key == "flag")
    assert flag.kind == "categorical" and flag.missing == 12
    assert result.keys[0].key == "flag"


def test_too_few_runs_warns_with_threshold_and_reason() -> None:
    configs, values = sweep(12)
    result = parameter_importance(configs, values, "val/acc")
    assert result.warning is not None
    assert f"fewer than {TRUST_RUNS} runs" in result.warning
    assert f"±{critical_correlation(12):.2f}" in result.warning
    assert result.keys and result.keys[0].importance is not None


def test_far_too_few_runs_estimates_nothing() -> None:
    configs, values = sweep(3)
    result = parameter_importance(configs, values, "val/acc")
    assert result.warning is not None and "at least 5" in result.warning
    assert all(k.importance is None and k.correlation is None for k in result.keys)


def test_runs_without_the_metric_are_left_out() -> None:
    configs, values = sweep(30)
    holes: list[float | None] = list(values)
    holes[0], holes[1], holes[2] = None, math.nan, math.inf
    result = parameter_importance(configs, holes, "val/acc")
    assert result.n_runs == 27 and result.runs_without_metric == 3


def test_deterministic_given_seed_and_seed_matters() -> None:
    configs, values = sweep(30)
    options = ForestOptions(resamples=10, trees=5)
    a = parameter_importance(configs, values, "m", seed=7, resamples=200, forest=options)
    b = parameter_importance(configs, values, "m", seed=7, resamples=200, forest=options)
    c = parameter_importance(configs, values, "m", seed=8, resamples=200, forest=options)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


def test_method_explains_numbers_and_dict_matches_api_shape(ranked) -> None:
    data = ranked.to_dict()
    assert {"metric", "n_runs", "method", "warning", "keys"} <= set(data)
    key = data["keys"][0]
    assert {"key", "kind", "correlation", "correlation_ci", "importance", "importance_ci"} <= set(
        key
    )
    assert len(key["importance_ci"]) == 2
    for phrase in ("Spearman", "random forest", "shuffled", "bootstrap", "95%"):
        assert phrase in data["method"]


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(LabledgerError, match="2 configs but 1 metric values"):
        parameter_importance([{}, {}], [1.0], "m")
    with pytest.raises(LabledgerError, match="unknown correlation"):
        parameter_importance([{}], [1.0], "m", correlation="kendall")  # type: ignore[arg-type]
