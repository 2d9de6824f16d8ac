"""Optuna: every trial a run in the study's group.

    from labledger.integrations.optuna import track
    study.optimize(track(objective, project="sweep"), n_trials=50)

``track`` wraps the objective: each trial is a live run (so ``labledger.log`` inside the
objective goes to it) named ``<study>-trial-<number>`` in the group ``optuna-<study>``. The
trial's params become the config, each ``trial.report(value, step)`` is the ``objective``
series at that step, the returned value its final value, and the trial's state is recorded
as ``optuna.state`` (``COMPLETE``, ``PRUNED`` or ``FAIL``): a pruned trial is a finished run
with that state, a failed one a failed run. Nothing is shared between workers but Optuna's
own storage, so several processes or machines on one RDB study each record their trials.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import labledger as ll
from labledger.integrations._common import guarded, numeric, require

_live: dict[int, tuple[ll.Run, str]] = {}  # id(trial) -> (run, metric), during the objective
_lock = threading.Lock()
_reporting_classes: dict[type, type] = {}


def track(
    objective: Callable[..., Any],
    *,
    project: str | None = None,
    metric_name: str | Sequence[str] = "objective",
    group: str | None = None,
) -> Callable[..., Any]:
    """Wrap an Optuna objective so each trial is recorded as a run.

    ``metric_name`` names the objective (one name per objective for multi-objective
    studies); ``group`` defaults to ``optuna-<study name>``.
    """
    optuna = require("optuna", "optuna")

    @functools.wraps(objective)
    def tracked(trial: Any) -> Any:
        study_name = trial.study.study_name
        run = ll.init(
            project=project,
            group=group or f"optuna-{study_name}",
            name=f"{study_name}-trial-{trial.number}",
            tags=["optuna"],
            config={"optuna": {"study": study_name, "trial": trial.number}},
        )
        names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
        _attach(trial, run, names[0])
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            _close(trial, run, "PRUNED", None)
            raise
        except BaseException as exc:
            _close(trial, run, "FAIL", exc)
            raise
        guarded("recording the objective", _record_value, run, value, metric_name)
        _close(trial, run, "COMPLETE", None)
        return value

    return tracked


def _attach(trial: Any, run: ll.Run, metric: str) -> None:
    """Route ``trial.report`` to the run: the trial's class becomes a same-layout subclass
    whose ``report`` also logs (Optuna's ``Trial`` has ``__slots__``; isinstance holds)."""
    cls = type(trial)
    with _lock:
        _live[id(trial)] = (run, metric)
        reporting = _reporting_classes.get(cls)
        if reporting is None:
            reporting = type(cls.__name__, (cls,), {"__slots__": (), "report": _report})
            reporting.__module__ = cls.__module__
            _reporting_classes[cls] = reporting
    guarded("tracking trial.report", setattr, trial, "__class__", reporting)


def _report(self: Any, value: float, step: int) -> None:
    super(type(self), self).report(value, step)
    live = _live.get(id(self))
    if live is not None:
        run, metric = live
        run.log({metric: value}, step=step)


def _close(trial: Any, run: ll.Run, state: str, exc: BaseException | None) -> None:
    with _lock:
        _live.pop(id(trial), None)
    optuna_section = {"study": trial.study.study_name, "trial": trial.number, "state": state}
    guarded("recording trial params", run.update_config, {**trial.params, "optuna": optuna_section})
    if exc is None:
        run.finish()
    elif isinstance(exc, KeyboardInterrupt):
        run.finish("killed", error="KeyboardInterrupt")
    else:
        import traceback

        run.finish("failed", error="".join(traceback.format_exception(exc)))


def _record_value(run: ll.Run, value: Any, metric_name: str | Sequence[str]) -> None:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    names = [metric_name] if isinstance(metric_name, str) else list(metric_name)
    if len(values) > 1 and len(names) == 1:
        names = [f"{names[0]}/{i}" for i in range(len(values))]
    final = numeric(dict(zip(names, values, strict=False)))
    if final:
        run.summary.update(final)
