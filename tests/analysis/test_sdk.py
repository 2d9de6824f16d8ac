from __future__ import annotations

import numpy as np
import pytest

import labledger as ll
from labledger.errors import LabledgerError
from tests.analysis.conftest import record_runs


def test_importance_over_a_project(sweep_runs: list[str]) -> None:
    result = ll.Api().importance("val/acc", project="sweep")
    assert result.n_runs == 60
    assert {k.key for k in result.keys[:2]} == {"optim.lr", "optim.name"}
    same = ll.Api().importance("metrics.val/acc", sweep_runs)
    assert same.to_dict() == result.to_dict()


def test_importance_with_a_filter(sweep_runs: list[str]) -> None:
    result = ll.Api().importance("val/acc", project="sweep", filter="config.layers > 3")
    assert 0 < result.n_runs < 60


def test_compare_seed_runs_is_noise(seed_runs: list[str]) -> None:
    result = ll.Api().compare("val/acc", seed_runs)
    assert result.verdict == "noise" and "within seed noise" in result.sentence
    assert sorted(result.groups[0].runs) == sorted(seed_runs)


def test_compare_by_config_key_and_explicit_sets() -> None:
    rng = np.random.default_rng(0)
    configs = [{"optimizer": o, "seed": i} for i, o in enumerate(["adam", "sgd"] * 5)]
    values = [(0.91 if c["optimizer"] == "adam" else 0.87) + rng.normal(0, 0.003) for c in configs]
    ids = record_runs(configs, values, project="opt")
    api = ll.Api()
    for by in ("optimizer", "config.optimizer"):
        result = api.compare("val/acc", project="opt", by=by)
        assert result.verdict == "real"
        assert result.sentence.startswith("adam beats sgd on val/acc")
        assert "(n=5 vs 5)" in result.sentence
    default = api.compare("val/acc", project="opt")  # grouped by configuration minus seeds
    assert default.best == "optimizer=adam" and default.verdict == "real"
    sets = api.compare("val/acc", by={"new": ids[0::2], "old": [i[:5] for i in ids[1::2]]})
    assert sets.best == "new" and sets.by == "runs"
    loss = api.compare("train/loss", project="opt", by="optimizer")
    assert loss.best == "adam" and not loss.higher_is_better
    assert api.compare("val/acc.min", project="opt", by="optimizer").groups[0].mean < 0.85
    each = api.compare("val/acc", ids[:3], by="run")
    assert len(each.groups) == 3 and each.verdict == "insufficient"


def test_compare_by_user_reads_the_captured_username() -> None:
    with ll.init(project="u", config={"a": 1}) as run:  # capture on: host.username
        run.log({"acc": 0.5})
    result = ll.Api().compare("acc", project="u", by="user")
    assert result.groups[0].name not in ("", "unknown")


def test_clear_errors() -> None:
    record_runs([{"a": 1}], [0.5], project="p")
    api = ll.Api()
    with pytest.raises(LabledgerError, match="no chosen run has a numeric metric 'nope'"):
        api.compare("nope", project="p")
    with pytest.raises(LabledgerError, match="config key 'zzz'"):
        api.compare("val/acc", project="p", by="zzz")
    with pytest.raises(LabledgerError, match="no runs chosen"):
        api.importance("val/acc")
    with pytest.raises(LabledgerError, match="no runs match"):
        api.importance("val/acc", project="empty")
