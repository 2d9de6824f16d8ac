"""Issue 10, "never lose silently": one bad point never costs the others (each test failed
before the writer isolated points and log() read values at call time)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import labledger as ll


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (non-strict) mode training scripts run in."""
    monkeypatch.setenv("LABLEDGER_STRICT", "0")


def history(run: ll.Run, key: str) -> tuple[list[int], list[float]]:
    h = ll.Api().run(run.id).history(key)
    return h.steps.tolist(), h.values.tolist()


def dropped(run: ll.Run) -> dict[str, int]:
    return dict(ll.Api().run(run.id).captures().get("dropped", {}).get("points", {}))


def test_tensor_requiring_grad_is_read_with_item(lenient: None) -> None:
    torch = pytest.importorskip("torch")
    weight = torch.ones(1, requires_grad=True)
    with ll.init(project="p", capture=False) as run:
        for step in range(5):
            loss = (weight * step).sum()  # straight from a forward pass: requires grad
            run.log({"loss": loss, "lr": 0.1}, step=step)
    assert history(run, "loss") == ([0, 1, 2, 3, 4], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert history(run, "lr")[0] == [0, 1, 2, 3, 4]
    assert ll.Api().run(run.id).status is ll.RunStatus.FINISHED


def test_int_too_large_for_float64_is_dropped_with_one_warning(
    lenient: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "labledger"), ll.init(project="p", capture=False) as run:
        for step in range(4):
            run.log({"loss": 1.0 * step, "huge": 10**400 if step % 2 else 1}, step=step)
    assert history(run, "loss")[1] == [0.0, 1.0, 2.0, 3.0]
    assert history(run, "huge") == ([0, 2], [1.0, 1.0])
    assert dropped(run) == {"huge": 2}
    warnings = [r.getMessage() for r in caplog.records if "'huge'" in r.getMessage()]
    assert len(warnings) == 1 and "too large for float64" in warnings[0]


def test_int_too_large_is_an_error_at_log_in_strict_mode() -> None:
    with ll.init(project="p", capture=False) as run:
        with pytest.raises(ValueError, match="too large for float64"):
            run.log({"huge": 10**400})
        run.log({"loss": 1.0})
    assert history(run, "loss")[1] == [1.0]


@pytest.mark.parametrize("step", [2**63, 10**30, math.nan, math.inf, -(2**63) - 1])
def test_unstorable_steps_are_refused_and_the_rest_lands(lenient: None, step: float) -> None:
    with ll.init(project="p", capture=False) as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": 2.0}, step=step)  # type: ignore[arg-type]
        run.log({"loss": 3.0}, step=1)
    assert history(run, "loss") == ([0, 1], [1.0, 3.0])
    assert dropped(run) == {"loss": 1}


@pytest.mark.parametrize("step", [2**63, math.nan])
def test_unstorable_steps_raise_in_strict_mode(step: float) -> None:
    with ll.init(project="p", capture=False) as run, pytest.raises(ValueError, match="step"):
        run.log({"loss": 2.0}, step=step)  # type: ignore[arg-type]


def test_fractional_step_is_refused_not_truncated() -> None:
    with ll.init(project="p", capture=False) as run:
        with pytest.raises(TypeError, match=r"step must be an integer, got 1\.5"):
            run.log({"loss": 2.0}, step=1.5)  # type: ignore[arg-type]
        run.log({"loss": 1.0}, step=np.int64(4))  # type: ignore[arg-type]
        run.log({"loss": 1.0}, step=5.0)  # type: ignore[arg-type]  # exact: kept
    assert history(run, "loss")[0] == [4, 5]


@pytest.mark.parametrize("bad_key", [None, ("a", "b"), 3, "", "x" * 300])
def test_bad_keys_are_skipped_and_good_points_land(
    lenient: None, bad_key: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "labledger"), ll.init(project="p", capture=False) as run:
        for step in range(3):
            run.log({"loss": float(step), bad_key: 1.0}, step=step)  # type: ignore[dict-item]
    assert history(run, "loss") == ([0, 1, 2], [0.0, 1.0, 2.0])
    name = bad_key if isinstance(bad_key, str) else repr(bad_key)
    assert dropped(run) == {name: 3}
    assert (
        sum(repr(name) in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
        == 1
    )


def test_none_value_warns_and_is_nan(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "labledger"), ll.init(project="p", capture=False) as run:
        run.log({"loss": None, "acc": 1.0})
        run.log({"loss": 2.0, "acc": 1.0})
    steps, values = history(run, "loss")
    assert steps == [0, 1] and math.isnan(values[0]) and values[1] == 2.0
    assert "'loss' got None" in caplog.text


def test_mixed_bad_values_in_one_flush_keep_every_good_point(lenient: None) -> None:
    torch = pytest.importorskip("torch")
    with ll.init(project="p", capture=False) as run:
        run.log({"a": 1.0, "b": "text"}, step=0)
        run.log({"a": 2.0, "b": np.ones(3)}, step=1)
        run.log({"a": 3.0, "b": torch.ones(2, 2)}, step=2)
        run.log({"a": 4.0, "b": object()}, step=3)
        run.log({"a": 5.0, "b": 5}, step=4)
        run.flush()
    assert history(run, "a")[1] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert history(run, "b") == ([4], [5.0])
    assert dropped(run) == {"b": 4}


def test_values_are_read_when_logged_not_when_written() -> None:
    torch = pytest.importorskip("torch")
    array = np.array(0.0)
    tensor = torch.tensor(0.0)
    with ll.init(project="p", capture=False) as run:
        for step in range(1, 4):
            array[()] = step
            tensor.fill_(step * 10)
            run.log({"array": array, "tensor": tensor})
        array[()] = 99
        tensor.fill_(99)
    assert history(run, "array")[1] == [1.0, 2.0, 3.0]
    assert history(run, "tensor")[1] == [10.0, 20.0, 30.0]


def test_dead_writer_thread_is_restarted_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run = ll.init(project="p", capture=False)
    writer = run._writer
    real = writer._collect
    calls = {"n": 0}

    def dies_once(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("simulated thread death")  # not an Exception: escapes the loop
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_collect", dies_once)
    run.log({"loss": 1.0})
    writer._thread.join(5)
    assert not writer.alive
    with caplog.at_level(logging.ERROR, "labledger"):
        run.log({"loss": 2.0})
    assert "background writer stopped" in caplog.text
    assert writer.alive
    run.finish()
    assert history(run, "loss")[1] == [1.0, 2.0]


def test_dropped_points_are_shown_by_runs_show_and_check(lenient: None) -> None:
    from click.testing import CliRunner

    from labledger.cli.main import cli

    with ll.init(project="p", capture=False) as run:
        run.log({"loss": 1.0, "bad": "x"})
    shown = CliRunner().invoke(cli, ["runs", "show", run.id])
    assert shown.exit_code == 0 and "dropped" in shown.output.lower() and "bad" in shown.output
    checked = CliRunner().invoke(cli, ["check", run.id])
    assert "dropped" in checked.output.lower() and "bad" in checked.output
