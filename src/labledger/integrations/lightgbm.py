"""LightGBM: ``lgb.train(params, train_set, valid_sets=[...], callbacks=[LabledgerCallback()])``.

Records the training parameters, each validation metric per iteration as
``<data>/<metric>`` (``val/l2``) at the iteration as step, and at the last iteration the
booster as a ``model`` artifact (LightGBM's text format). When another callback stops
training early call ``callback.finish(booster)`` to log the model and finish the run.
Inside an active run it logs into it and leaves finishing to the caller.
"""

from __future__ import annotations

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

require("lightgbm", "lightgbm")


class LabledgerCallback:
    """A LightGBM callback; ``init_kwargs`` go to ``labledger.init``."""

    order = 25  # after LightGBM's own record_evaluation (20), before early_stopping (30)
    before_iteration = False

    def __init__(
        self,
        project: str | None = None,
        *,
        log_model: bool = True,
        model_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        self.project = project
        self.log_model = log_model
        self.model_name = model_name
        self.init_kwargs = init_kwargs
        self.run: ll.Run | None = None
        self._owned = False

    def __call__(self, env: Any) -> None:
        if self.run is None:
            self._start(env.params)
        run = self.run
        assert run is not None
        point = {
            f"{data}/{metric}": value
            for data, metric, value, *_ in env.evaluation_result_list or ()
        }
        values = numeric(point)
        if values:
            run.log(values, step=env.iteration)
        if env.iteration + 1 >= env.end_iteration:
            self.finish(env.model)

    def _start(self, params: Any) -> None:
        current = ll.current_run()
        if current is None:
            self.run = ll.init(project=self.project, **self.init_kwargs)
            self._owned = True
        else:
            self.run, self._owned = current, False
        guarded("recording params", self.run.update_config, {"lightgbm": dict(params or {})})

    def finish(self, booster: Any) -> None:
        """Log ``booster`` and finish the run this callback started (idempotent)."""
        run = self.run
        if run is None:
            return
        if self.log_model:
            guarded(
                "logging the booster",
                log_file_artifact,
                run,
                lambda path: _save(booster, path),
                "model.txt",
                name=self.model_name or artifact_name(run.project, "lightgbm"),
                metadata={"framework": "lightgbm", "format": "text"},
            )
        if self._owned:
            run.finish()
        self.run = None


def _save(booster: Any, path: Path) -> None:
    path.write_text(booster.model_to_string())
