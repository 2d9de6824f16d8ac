from __future__ import annotations

import numpy as np
import pytest

from labledger.analysis import (
    compare_groups,
    higher_is_better,
    is_seed_key,
    labels_by_configuration,
    labels_by_key,
)
from labledger.analysis.grouping import group_values
from labledger.errors import LabledgerError
from tests.analysis.sweeps import seed_only


def test_runs_differing_only_by_seed_are_within_seed_noise() -> None:
    configs, values = seed_only(8)
    labels = labels_by_configuration(configs)
    assert set(labels) == {"all runs"}
    groups, ids = group_values(labels, values, [f"r{i}" for i in range(8)])
    result = compare_groups(groups, "val/acc", run_ids=ids, same_configuration=True)
    assert result.verdict == "noise"
    assert "within seed noise" in result.sentence
    assert result.groups[0].n == 8 and result.groups[0].runs[0] == "r0"


def test_seed_runs_split_in_two_are_noise() -> None:
    _, values = seed_only(8)
    result = compare_groups({"first": values[:4], "second": values[4:]}, "val/acc")
    assert result.verdict == "noise"
    assert "within seed noise" in result.sentence
    assert result.p_best_beats_runner_up is not None and result.p_best_beats_runner_up < 0.95


def test_clear_difference_is_real_with_the_plain_sentence() -> None:
    rng = np.random.default_rng(0)
    adam = list(0.91 + rng.normal(0, 0.004, 5))
    sgd = list(0.88 + rng.normal(0, 0.004, 5))
    result = compare_groups({"sgd": sgd, "adam": adam}, "val/acc", by="config.optimizer")
    assert result.verdict == "real"
    assert result.best == "adam" and result.runner_up == "sgd"
    assert result.sentence.startswith("adam beats sgd on val/acc in ")
    assert result.sentence.endswith("of bootstrap resamples (n=5 vs 5)")
    assert result.p_best_beats_runner_up is not None and result.p_best_beats_runner_up >= 0.95
    adam_group = result.groups[0]
    assert adam_group.ci is not None and adam_group.ci[0] < adam_group.mean < adam_group.ci[1]


def test_direction_is_inferred_from_the_name_and_overridable() -> None:
    for name in ("loss", "val/loss", "train_loss", "test_error", "ppl", "val/nll_loss", "mse"):
        assert not higher_is_better(name), name
    for name in ("val/acc", "f1", "accuracy", "reward", "auc"):
        assert higher_is_better(name), name
    low, high = [0.1, 0.11, 0.12], [0.5, 0.52, 0.51]
    result = compare_groups({"low": low, "high": high}, "val/loss")
    assert result.best == "low" and not result.higher_is_better
    flipped = compare_groups({"low": low, "high": high}, "val/loss", higher=True)
    assert flipped.best == "high"


def test_too_few_runs_per_group_is_insufficient() -> None:
    result = compare_groups({"a": [0.9, 0.91], "b": [0.8]}, "acc")
    assert result.verdict == "insufficient"
    assert "at least 3" in result.sentence
    assert compare_groups({}, "acc").verdict == "insufficient"
    one = compare_groups({"adam": [0.9, 0.91, 0.92]}, "acc", by="config.optimizer")
    assert one.verdict == "insufficient" and "config.optimizer=adam" in one.sentence


def test_missing_values_are_left_out_and_counted() -> None:
    result = compare_groups({"a": [1.0, None, float("nan"), 2.0, 3.0]}, "acc")
    assert result.groups[0].n == 3 and result.runs_without_metric == 2


def test_deterministic_given_seed() -> None:
    groups = {"a": [0.9, 0.91, 0.89, 0.92], "b": [0.9, 0.905, 0.88, 0.9]}
    assert (
        compare_groups(groups, "acc", seed=1).to_dict()
        == compare_groups(groups, "acc", seed=1).to_dict()
    )


def test_dict_matches_api_shape() -> None:
    data = compare_groups({"a": [1.0, 2.0, 3.0], "b": [2.0, 3.0, 4.0]}, "acc", by="user").to_dict()
    assert {
        "metric",
        "by",
        "groups",
        "best",
        "runner_up",
        "p_best_beats_runner_up",
        "verdict",
        "sentence",
    } <= set(data)
    assert {"name", "n", "mean", "ci", "values"} <= set(data["groups"][0])


def test_grouping_by_key_and_by_configuration() -> None:
    configs = [
        {"optim": {"name": "adam"}, "seed": 1},
        {"optim": {"name": "sgd"}, "seed": 2},
        {"seed": 3},
    ]
    assert labels_by_key(configs, "optim.name") == ["adam", "sgd", "<missing>"]
    assert labels_by_configuration(configs) == [
        "optim.name=adam",
        "optim.name=sgd",
        "optim.name=<missing>",
    ]
    for key in ("seed", "train.seed", "data_seed", "random_state"):
        assert is_seed_key(key)
    assert not is_seed_key("seedling") and not is_seed_key("lr")


def test_bad_arguments() -> None:
    with pytest.raises(LabledgerError, match="confidence"):
        compare_groups({"a": [1.0]}, "acc", confidence=1.5)
