"""Hugging Face Transformers: a ``TrainerCallback``.

``Trainer(..., callbacks=[LabledgerCallback(project="nlp")])``, or, once this module is
imported, ``TrainingArguments(report_to="labledger")`` (the project then comes from
``LABLEDGER_PROJECT`` or the settings). Records ``TrainingArguments`` under
``training_args``, the model config under ``model_config`` and the model's class and size;
training logs as ``train/<key>`` and evaluation logs as ``eval/<key>`` at the global step;
the end-of-training figures (runtime, throughput, mean loss) in the summary; and the final
model (``save_pretrained``) as a ``model`` artifact folder. Only the main process records.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from labledger.encoding import to_jsonable
from labledger.integrations._common import RunHandle, artifact_name, guarded, numeric, require

require("transformers", "transformers")

from transformers import TrainerCallback  # noqa: E402
from transformers.integrations import integration_utils  # noqa: E402

_END_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second")


class LabledgerCallback(TrainerCallback):
    """Records a ``Trainer`` run; ``init_kwargs`` go to ``labledger.init``."""

    def __init__(
        self,
        project: str | None = None,
        *,
        log_model: bool = True,
        model_name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        self.handle = RunHandle(project, init_kwargs)
        self.log_model = log_model
        self.model_name = model_name

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero:
            guarded("recording the training setup", self._record_setup, args, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run = self.handle.get()
        if any(key in logs for key in _END_KEYS):
            final = {f"train/{k.removeprefix('train_')}": v for k, v in logs.items()}
            if "train/loss" in final:
                final["train/mean_loss"] = final.pop("train/loss")
            run.summary.update(numeric(final))
            return
        point = {_metric_key(key): value for key, value in logs.items()}
        values = numeric(point)
        if values:
            run.log(values, step=state.global_step)

    def on_train_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        if self.log_model and model is not None:
            guarded("logging the model", self._log_model, model)
        self.handle.finish()

    def _record_setup(self, args: Any, model: Any) -> None:
        config: dict[str, Any] = {"training_args": _plain(args.to_dict())}
        if model is not None:
            params = list(model.parameters())
            config["model"] = {
                "class": type(model).__name__,
                "parameters": sum(p.numel() for p in params),
                "trainable_parameters": sum(p.numel() for p in params if p.requires_grad),
            }
            model_config = getattr(model, "config", None)
            if model_config is not None:
                config["model_config"] = _plain(model_config.to_dict())
        self.handle.get().update_config(config)

    def _log_model(self, model: Any) -> None:
        run = self.handle.get()
        with tempfile.TemporaryDirectory(prefix="labledger-") as folder:
            model.save_pretrained(folder)
            run.log_artifact(
                Path(folder),
                name=self.model_name or artifact_name(run.project, type(model).__name__),
                type="model",
                metadata={"framework": "transformers", "class": type(model).__name__},
            )


def _metric_key(key: str) -> str:
    for prefix in ("eval_", "test_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key[len(prefix) :]}"
    return f"train/{key}"


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    converted = to_jsonable(values)  # enums, paths, dtypes: JSON-safe, quietly
    return converted if isinstance(converted, dict) else {}


# ``TrainingArguments(report_to="labledger")`` picks this callback up.
integration_utils.INTEGRATION_TO_CALLBACK.setdefault("labledger", LabledgerCallback)
