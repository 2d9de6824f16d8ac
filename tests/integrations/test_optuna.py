"""Optuna: each trial a run in the study's group; two worker processes share one study on
PostgreSQL RDB storage."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

import labledger as ll
from labledger.integrations.optuna import track
from tests.conftest import POSTGRES_URL

OBJECTIVE = """
import optuna
import labledger as ll

def objective(trial):
    x = trial.suggest_float("x", -4.0, 4.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    offset = 0.0 if kind == "a" else 1.0
    for step in range(4):
        value = (x - 1.0) ** 2 + offset + 1.0 / (step + 1)
        trial.report(value, step)
        ll.log({"inner": float(step)})
        if trial.should_prune():
            raise optuna.TrialPruned()
    return (x - 1.0) ** 2 + offset
"""


def _objective():  # the same objective, in-process
    namespace: dict[str, object] = {}
    exec(OBJECTIVE, namespace)
    return namespace["objective"]


def _assert_runs_match(study: optuna.Study, project: str) -> None:
    runs = ll.runs(project)
    trials = [t for t in study.trials if t.state.is_finished()]
    assert len(runs) == len(trials)
    by_trial = {r.config["optuna"]["trial"]: r for r in runs}
    assert len(by_trial) == len(runs), "a trial was recorded twice"
    assert {r.record.group for r in runs} == {f"optuna-{study.study_name}"}
    for trial in trials:
        run = by_trial[trial.number]
        assert run.status == "finished"
        assert run.config["x"] == trial.params["x"] and run.config["kind"] == trial.params["kind"]
        assert run.config["optuna"]["state"] == trial.state.name
        steps, values = run.history("objective")
        assert dict(zip(steps.tolist(), values.tolist(), strict=True)) == trial.intermediate_values
        if trial.state.name == "COMPLETE":
            assert run.metrics["objective"] == trial.value
        assert len(run.history("inner")[0]) == len(trial.intermediate_values)  # ll.log works


def test_each_trial_is_a_run_and_pruned_trials_say_so() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="quad",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    study.optimize(track(_objective(), project="sweep"), n_trials=8)
    _assert_runs_match(study, "sweep")
    states = {t.state.name for t in study.trials}
    assert "PRUNED" in states and "COMPLETE" in states


def test_a_failing_trial_is_a_failed_run() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_int("n", 0, 3)
        raise ValueError("diverged")

    study = optuna.create_study()
    study.optimize(track(objective, project="sweep"), n_trials=1, catch=(ValueError,))
    (run,) = ll.runs("sweep")
    assert run.status == "failed" and "diverged" in (run.record.error or "")
    assert run.config["optuna"]["state"] == "FAIL"


WORKER = (
    OBJECTIVE
    + """
import sys
from labledger.integrations.optuna import track

storage, name = sys.argv[1], sys.argv[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=name, storage=storage,
                          sampler=optuna.samplers.RandomSampler())
study.optimize(track(objective, project="shared"), n_trials=6)
"""
)


@pytest.fixture
def optuna_storage() -> Iterator[str]:
    """An Optuna RDB storage URL in a fresh PostgreSQL schema of its own, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"optuna_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        base = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_share_one_postgres_study(
    optuna_storage: str, postgres_uri: str, tmp_path: Path
) -> None:
    study = optuna.create_study(
        study_name="shared-quad",
        storage=optuna_storage,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
    )
    worker = tmp_path / "worker.py"
    worker.write_text(textwrap.dedent(WORKER))
    env = {
        **os.environ,
        "LABLEDGER_URI": postgres_uri,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), optuna_storage, study.study_name],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    study = optuna.load_study(study_name=study.study_name, storage=optuna_storage)
    assert len(study.trials) == 12
    api = ll.Api(uri=postgres_uri)
    runs = api.runs("shared")
    assert len({r.record.pid for r in runs}) == 2  # both workers recorded trials
    os.environ["LABLEDGER_URI"] = postgres_uri
    try:
        _assert_runs_match(study, "shared")
    finally:
        del os.environ["LABLEDGER_URI"]


def test_importance_agrees_with_optunas_on_the_same_study() -> None:
    """labledger's parameter importance over the trials' runs ranks the parameters as
    Optuna's fANOVA evaluator does on the study itself."""
    from scipy.stats import spearmanr

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        y = trial.suggest_float("y", -3.0, 3.0)
        z = trial.suggest_float("z", -3.0, 3.0)
        trial.suggest_float("unused", -3.0, 3.0)
        return 3.0 * x + 1.5 * y + 0.5 * z  # variance shares 27 : 6.75 : 0.75 : 0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(track(objective, project="importance"), n_trials=80)

    ours = ll.Api().importance("objective", project="importance", resamples=100)
    theirs = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
    )
    ranked = {k.key: k.importance for k in ours.keys if k.key in theirs}
    assert set(ranked) == set(theirs)
    names = sorted(theirs)
    rho = spearmanr([ranked[n] for n in names], [theirs[n] for n in names]).statistic
    print(f"rank correlation with Optuna's fANOVA importance: {rho:.2f}")
    assert rho >= 0.8
    assert max(ranked, key=lambda n: ranked[n] or 0.0) == "x" == next(iter(theirs))
