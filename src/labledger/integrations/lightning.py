"""PyTorch Lightning: ``Trainer(logger=LabledgerLogger(project="digits"))``.

Records the module's hyperparameters (``save_hyperparameters``), the model's class and size,
the optimizers and their settings, the trainer's epochs, steps and precision; every logged
metric at the trainer's global step; each checkpoint ``ModelCheckpoint`` writes as a version
of the artifact ``checkpoint-<run id>`` with the best one aliased ``best``; and the run
finished or failed with the trainer. Only rank 0 records (Lightning's ``rank_zero_only``).
Inside an active run the logger logs into it and leaves finishing it to the caller.
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import labledger as ll
from labledger.integrations._common import guarded, numeric, require

require("lightning.pytorch", "lightning", "lightning")

from lightning.pytorch.loggers.logger import Logger  # noqa: E402
from lightning.pytorch.utilities import rank_zero_only  # noqa: E402

_STATUS = {"success": "finished", "finished": "finished", "failed": "failed"}


class LabledgerLogger(Logger):
    """A Lightning ``Logger`` writing to labledger; ``init_kwargs`` go to ``labledger.init``."""

    def __init__(
        self,
        project: str | None = None,
        *,
        log_checkpoints: bool = True,
        checkpoint_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._project = project
        self._init_kwargs = init_kwargs
        self._log_checkpoints = log_checkpoints
        self._checkpoint_name = checkpoint_name
        self._run: ll.Run | None = None
        self._owned = False
        self._logged: dict[str, tuple[float, str]] = {}  # checkpoint path -> (mtime, ref)

    # --- the run ------------------------------------------------------------------------
    @property
    def experiment(self) -> ll.Run:
        """The labledger run (started on first use; resumed if a later ``fit``/``test`` logs
        after an earlier one finished it)."""
        if self._run is None:
            current = ll.current_run()
            if current is not None:
                self._run = current
            else:
                self._run = ll.init(project=self._project, **self._init_kwargs)
                self._owned = True
        elif self._owned and self._run.record.status != "running":
            self._run = ll.init(resume=self._run.id)
        return self._run

    @property
    def name(self) -> str:
        return self._project or "labledger"

    @property
    def version(self) -> str:
        if self._run is None and getattr(rank_zero_only, "rank", 0) > 0:
            return ""  # other ranks never start a run
        return self.experiment.id

    @property
    def save_dir(self) -> str | None:
        return None

    # --- Lightning hooks -----------------------------------------------------------------
    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        if values:
            guarded("recording hyperparameters", self.experiment.update_config, values)

    @rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        guarded("recording the model and trainer", self._record_setup, model)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = numeric(metrics)
        if values:
            self.experiment.log(values, step=step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_checkpoints:
            guarded("logging a checkpoint", self._record_checkpoints, checkpoint_callback)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is None or not self._owned or self._run.record.status != "running":
            return
        self._run.finish(_STATUS.get(status, "failed"))

    # --- details ------------------------------------------------------------------------
    def _record_setup(self, model: Any) -> None:
        params = list(model.parameters())
        config: dict[str, Any] = {
            "model": {
                "class": f"{type(model).__module__}.{type(model).__qualname__}",
                "parameters": sum(p.numel() for p in params),
                "trainable_parameters": sum(p.numel() for p in params if p.requires_grad),
            }
        }
        trainer = getattr(model, "_trainer", None)
        if trainer is not None:
            config["trainer"] = {
                "max_epochs": trainer.max_epochs,
                "max_steps": trainer.max_steps,
                "precision": str(trainer.precision),
                "accumulate_grad_batches": trainer.accumulate_grad_batches,
                "world_size": trainer.world_size,
                "strategy": type(trainer.strategy).__name__,
            }
            optimizers = [_optimizer(o) for o in trainer.optimizers]
            if optimizers:
                config["optimizer"] = optimizers[0] if len(optimizers) == 1 else optimizers
        self.experiment.update_config(config)

    def _record_checkpoints(self, callback: Any) -> None:
        run = self.experiment
        name = self._checkpoint_name or f"checkpoint-{run.id}"
        paths = [*getattr(callback, "best_k_models", {}), getattr(callback, "last_model_path", "")]
        scores = {p: _as_float(s) for p, s in getattr(callback, "best_k_models", {}).items()}
        for path in dict.fromkeys(p for p in paths if p and os.path.isfile(p)):
            mtime = os.path.getmtime(path)
            if self._logged.get(path, (None,))[0] == mtime:
                continue
            version = run.log_artifact(
                path,
                name=name,
                type="model",
                metadata={
                    "framework": "lightning",
                    "file": os.path.basename(path),
                    "monitor": getattr(callback, "monitor", None),
                    "score": scores.get(path),
                },
            )
            self._logged[path] = (mtime, version.ref)
        best = getattr(callback, "best_model_path", "")
        if best in self._logged:
            run.artifacts.alias(self._logged[best][1], "best")


def _optimizer(optimizer: Any) -> dict[str, Any]:
    defaults = getattr(optimizer, "defaults", {})
    settings = {k: v for k, v in defaults.items() if isinstance(v, (int, float, str, bool))}
    return {"class": type(optimizer).__name__, **settings}


def _as_float(value: Any) -> float | None:
    values = numeric({"v": value})
    return values.get("v")
