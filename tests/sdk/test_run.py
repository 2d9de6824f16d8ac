"""The SDK's run lifecycle, in-process: init/log/summary/finish and what lands in the store."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import types

import numpy as np
import pytest

import labledger as ll
from labledger.errors import LabledgerError


def test_context_manager_records_config_metrics_and_summary() -> None:
    cfg = {"optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 64}
    with ll.init(
        project="digits",
        config=cfg,
        name="first",
        tags=["t"],
        group="g",
        notes="hello",
        capture=False,
    ) as run:
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1), "acc": np.float32(step / 10)}, step=step)
        run.summary["f1"] = 0.75
    view = ll.Api().run(run.id)
    assert view.status is ll.RunStatus.FINISHED
    assert (view.name, view.record.tags, view.record.group, view.record.notes) == (
        "first",
        ["t"],
        "g",
        "hello",
    )
    assert view.config == cfg
    assert view.params["optimizer.lr"] == 1e-3
    assert view.metrics["f1"] == 0.75
    assert view.metrics["acc"] == pytest.approx(0.9)
    steps, values = view.history("loss")
    assert steps.tolist() == list(range(10))
    assert values[-1] == pytest.approx(0.1)
    assert view.record.exit_code == 0 and view.record.runtime is not None


def test_module_level_log_and_finish_with_automatic_steps() -> None:
    run = ll.init(project="p", capture=False)
    for value in (3.0, 2.0, 1.0):
        ll.log({"loss": value})
    ll.log({"loss": 0.5}, step=10)
    ll.log({"loss": 0.25})
    ll.finish()
    assert ll.current_run() is None
    steps, values = ll.Api().run(run.id).history("loss")
    assert steps.tolist() == [0, 1, 2, 10, 11]
    assert values.tolist() == [3.0, 2.0, 1.0, 0.5, 0.25]


def test_log_before_init_is_a_clear_error() -> None:
    with pytest.raises(LabledgerError, match=r"before labledger\.init"):
        ll.log({"loss": 1.0})


def test_log_copies_the_callers_dict() -> None:
    with ll.init(project="p", capture=False) as run:
        point = {"loss": 1.0}
        run.log(point)
        point["loss"] = 99.0
    assert ll.Api().run(run.id).metrics["loss"] == 1.0


@pytest.mark.parametrize("journal", ["1", "0"], ids=["journal", "memory"])
def test_what_is_logged_is_what_the_values_were_when_log_returned(
    journal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal keeps the caller's dict as its encoding; values it cannot encode are read
    at log() as the in-memory path reads them (a 0-d array changed in place afterwards)."""
    monkeypatch.setenv("LABLEDGER_POINT_JOURNAL", journal)
    array = np.array(0.25)
    items = [1.0, 2.0]
    with ll.init(project="p", capture=False) as run:
        point = {"a": 1.0, "n": 3, "b": True, "x": array, "f": np.float64(0.5), "l": items}
        run.log(point, step=0)
        point["a"], array[()] = 99.0, 99.0
        items.append(99.0)
        run.log({"a": np.float32(1.5), "x": array}, step=1)
    view = ll.Api().run(run.id)
    assert view.history("a").values.tolist() == [1.0, 1.5]
    assert view.history("x").values.tolist() == [0.25, 99.0]
    assert (view.metrics["n"], view.metrics["b"], view.metrics["f"]) == (3.0, 1.0, 0.5)
    assert "l" not in view.metrics  # a list is no metric: dropped with its reason


def test_torch_scalars_are_logged() -> None:
    torch = pytest.importorskip("torch")
    with ll.init(project="p", capture=False) as run:
        run.log({"loss": torch.tensor(0.5)})
    assert ll.Api().run(run.id).metrics["loss"] == 0.5


def test_non_numeric_metric_warns_and_keeps_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABLEDGER_STRICT", "0")
    with caplog.at_level(logging.WARNING, "labledger"), ll.init(project="p", capture=False) as run:
        run.log({"loss": 1.0, "label": "cat"})
        run.log({"loss": 2.0, "label": 3})
    view = ll.Api().run(run.id)
    assert view.history("loss").values.tolist() == [1.0, 2.0]
    assert view.history("label").values.tolist() == [3.0]
    assert "non-numeric" in caplog.text


def test_exception_marks_failed_with_traceback() -> None:
    with pytest.raises(ZeroDivisionError), ll.init(project="p", capture=False) as run:
        run.log({"loss": 1.0})
        _ = 1 / 0
    view = ll.Api().run(run.id)
    assert view.status is ll.RunStatus.FAILED
    assert "ZeroDivisionError" in (view.record.error or "")
    assert view.metrics["loss"] == 1.0


def test_keyboard_interrupt_marks_killed() -> None:
    with pytest.raises(KeyboardInterrupt), ll.init(project="p", capture=False) as run:
        raise KeyboardInterrupt
    assert ll.Api().run(run.id).status is ll.RunStatus.KILLED


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.1
    layers: tuple[int, ...] = (64, 32)


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"lr": 0.1, "layers": [64, 32]}, "dict"),
        (argparse.Namespace(lr=0.1, layers=[64, 32]), "argparse"),
        (TrainConfig(), "dataclass"),
    ],
)
def test_config_sources(config: object, kind: str) -> None:
    with ll.init(project="p", config=config, capture=False) as run:
        pass
    view = ll.Api().run(run.id)
    assert view.config == {"lr": 0.1, "layers": [64, 32]}
    assert view.captures()["run"]["config_source"] == kind


def test_omegaconf_config_is_resolved() -> None:
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"model": {"width": 64, "double": "${model.width}"}})
    with ll.init(project="p", config=cfg, capture=False) as run:
        pass
    assert ll.Api().run(run.id).params == {"model.width": 64, "model.double": 64}


def test_unserialisable_config_is_stored_as_repr(caplog: pytest.LogCaptureFixture) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    with (
        caplog.at_level(logging.WARNING, "labledger"),
        ll.init(project="p", config={"thing": Opaque(), "nan": math.nan}, capture=False) as run,
    ):
        pass
    assert ll.Api().run(run.id).config == {"thing": "<Opaque>", "nan": "nan"}
    assert "thing: Opaque stored as its repr" in caplog.text


def test_bad_config_type_is_refused() -> None:
    with pytest.raises(TypeError, match="config must be"):
        ll.init(project="p", config=[1, 2], capture=False)


def test_resume_continues_steps_and_status() -> None:
    run = ll.init(project="p", capture=False)
    run.log({"loss": 1.0})
    run.log({"loss": 0.9})
    run.finish(ll.RunStatus.KILLED)
    resumed = ll.init(resume=run.id[:6], capture=False)
    assert resumed.id == run.id and resumed.step == 2
    resumed.log({"loss": 0.8})
    resumed.finish()
    view = ll.Api().run(run.id)
    assert view.status is ll.RunStatus.FINISHED
    assert view.history("loss").steps.tolist() == [0, 1, 2]


def test_seed_everything_seeds_and_records() -> None:
    import random

    ll.seed_everything(7)
    first = (random.random(), np.random.rand())
    with ll.init(project="p", seed=7, capture=False) as run:
        assert (random.random(), np.random.rand()) == first
    seeds = ll.Api().run(run.id).captures()["seeds"]
    assert seeds["seed"] == 7 and seeds["numpy"] == 7
    with pytest.raises(ValueError, match="seed"):
        ll.seed_everything(-1)


def test_runs_query_and_dataframe() -> None:
    for lr in (0.1, 0.01, 0.001):
        with ll.init(project="grid", config={"lr": lr, "opt": {"name": "sgd"}}, capture=False) as r:
            r.log({"acc": 1 - lr})
    found = ll.runs("grid", filter="metrics.acc > 0.95", order_by="-metrics.acc")
    assert [v.config["lr"] for v in found] == [0.001, 0.01]
    frame = found.to_pandas()
    assert list(frame["config.lr"]) == [0.001, 0.01]
    assert {"run_id", "status", "config.opt.name", "metrics.acc"} <= set(frame.columns)


def test_history_downsampling_keeps_extremes() -> None:
    with ll.init(project="p", capture=False) as run:
        for step in range(10_000):
            run.log({"x": 100.0 if step == 4321 else 0.0})
    steps, values = ll.Api().run(run.id).history("x", samples=100)
    assert len(steps) <= 101 and values.max() == 100.0 and 4321 in steps.tolist()


def test_console_output_is_recorded_and_still_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ll.init(project="p") as run:
        print("epoch 1: loss 0.5")
    assert "epoch 1: loss 0.5" in capsys.readouterr().out
    assert "epoch 1: loss 0.5\n" in ll.Api().run(run.id).output()


def test_system_metrics_are_sampled_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0.05")
    with ll.init(project="p") as run:
        time.sleep(0.4)
    view = ll.Api().run(run.id)
    steps, _ = view.history("system/cpu_percent")
    assert len(steps) >= 2 and steps.tolist() == list(range(len(steps)))
    assert view.metrics["system/memory_percent"] > 0
    assert {"git", "environment", "host", "gpu", "command", "determinism"} <= set(view.captures())


def _calls(rng: np.random.Generator) -> list[tuple[object, object]]:
    """A mix of ``log`` calls: the usual ones and each kind the one-call path hands on."""
    values: list[object] = [0.5, 3, True, np.float64(0.25), np.int32(7), float("nan")]
    steps: list[object] = [None, None, 5, 2, 9, 2**63, -(2**63), 1.5, np.int64(11)]
    calls: list[tuple[object, object]] = []
    for _ in range(300):
        keys = rng.choice(["a", "b", "c"], int(rng.integers(1, 4)), replace=False)
        data = {str(k): values[int(rng.integers(len(values)))] for k in keys}
        step = steps[int(rng.integers(len(steps)))]
        if rng.random() < 0.1:
            calls.append((types.MappingProxyType(data), step))  # a Mapping, not a dict
        else:
            calls.append((data, step))
    return calls


@pytest.mark.parametrize("seed", range(3))
def test_the_one_call_log_path_records_what_the_full_path_does(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run.log`` is the journal's one-call path (outside strict mode); a run logging
    through ``Run.log`` itself (every check) records the same points from the same calls."""
    monkeypatch.setenv("LABLEDGER_STRICT", "0")
    calls = _calls(np.random.default_rng(seed))
    fast = ll.init(project="p", capture=False)
    slow = ll.init(project="p", capture=False)
    assert "log" in vars(fast)  # the one-call path is in place
    assert fast.log.__doc__ == ll.Run.log.__doc__
    for data, step in calls:
        fast.log(data, step)  # type: ignore[arg-type]
        ll.Run.log(slow, data, step)  # type: ignore[arg-type]
    assert fast.step == slow.step
    fast.finish()
    slow.finish()
    assert "log" not in vars(fast)  # back to the method, which ignores logging after finish
    api = ll.Api()
    for key in "abc":
        a, b = api.run(fast.id).history(key), api.run(slow.id).history(key)
        assert a.steps.tolist() == b.steps.tolist()
        assert a.values.tobytes() == b.values.tobytes()
