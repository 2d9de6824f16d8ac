"""XGBoost: ``xgb.train(params, dtrain, evals=[...], callbacks=[LabledgerCallback()])``.

Records the booster's training parameters (read back from the booster, so nothing needs
repeating), each evaluation metric per boosting round as ``<data>/<metric>`` (``val/rmse``)
at the round as step, the best iteration and score when early stopping sets them, and the
trained booster as a ``model`` artifact (XGBoost's JSON format). Works with the scikit-learn
wrappers too (``XGBRegressor(callbacks=[...])``). Inside an active run it logs into it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import labledger as ll
from labledger.integrations._common import (
    artifact_name,
    guarded,
    log_file_artifact,
    numeric,
    require,
)

require("xgboost", "xgboost")

from xgboost.callback import TrainingCallback  # noqa: E402


class LabledgerCallback(TrainingCallback):
    """An XGBoost ``TrainingCallback``; ``init_kwargs`` go to ``labledger.init``."""

    def __init__(
        self,
        project: str | None = None,
        *,
        log_model: bool = True,
        model_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self.project = project
        self.log_model = log_model
        self.model_name = model_name
        self.init_kwargs = init_kwargs
        self.run: ll.Run | None = None
        self._owned = False

    def before_training(self, model: Any) -> Any:
        current = ll.current_run()
        if current is None:
            self.run = ll.init(project=self.project, **self.init_kwargs)
            self._owned = True
        else:
            self.run, self._owned = current, False
        guarded("recording booster params", self.run.update_config, booster_params(model))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if self.run is not None:
            point: dict[str, Any] = {}
            for data, metrics in evals_log.items():
                for metric, values in metrics.items():
                    last = values[-1]
                    point[f"{data}/{metric}"] = last[0] if isinstance(last, tuple) else last
            values = numeric(point)
            if values:
                self.run.log(values, step=epoch)
        return False  # never stops training

    def after_training(self, model: Any) -> Any:
        run = self.run
        if run is None:
            return model
        best = numeric(
            {
                "best_iteration": _attr(model, "best_iteration"),
                "best_score": _attr(model, "best_score"),
            }
        )
        if best:
            run.summary.update(best)
        if self.log_model:
            guarded(
                "logging the booster",
                log_file_artifact,
                run,
                lambda path: _save(model, path),
                "model.json",
                name=self.model_name or artifact_name(run.project, "xgboost"),
                metadata={
                    "framework": "xgboost",
                    "format": "json",
                    "rounds": model.num_boosted_rounds(),
                },
            )
        if self._owned:
            run.finish()
        self.run = None
        return model


def _save(model: Any, path: Path) -> None:
    path.write_bytes(bytes(model.save_raw("json")))


def _attr(model: Any, name: str) -> Any:
    try:
        return getattr(model, name)
    except (AttributeError, ValueError, KeyError):
        return None


def booster_params(model: Any) -> dict[str, Any]:
    """The booster's objective and training parameters, numbers parsed from XGBoost's text."""
    learner = json.loads(model.save_config())["learner"]
    params: dict[str, Any] = {"objective": learner.get("objective", {}).get("name")}
    booster = learner.get("gradient_booster", {})
    params["booster"] = booster.get("name")
    train = booster.get("tree_train_param") or booster.get("updater", {})
    if isinstance(train, dict):
        params.update({k: _parse(v) for k, v in train.items() if isinstance(v, str)})
    for key in ("learner_train_param", "generic_param"):
        section = learner.get(key, {})
        params.update({k: _parse(v) for k, v in section.items() if isinstance(v, str)})
    params["num_feature"] = _parse(learner.get("learner_model_param", {}).get("num_feature", ""))
    return {"xgboost": {k: v for k, v in params.items() if v not in (None, "")}}


def _parse(text: str) -> Any:
    """XGBoost stores numbers as text, floats in single precision (``0.300000012``): seven
    significant digits give back what the user wrote."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(f"{float(text):.7g}")
    except ValueError:
        return text
