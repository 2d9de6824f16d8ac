"""Keras 3: ``model.fit(..., callbacks=[LabledgerCallback(project="digits")])``.

Records the fit parameters (epochs, steps), the model's name, size and layer count, the
optimizer's configuration, the loss; every epoch's logs (``loss``, ``val_loss``, metrics) at
the epoch as step, optionally every ``log_every_n_batches`` training batches under
``batch/``; and the trained model as a ``.keras`` ``model`` artifact. Works with any Keras 3
backend (the tests use torch). Inside an active run it logs into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labledger.integrations._common import (
    RunHandle,
    artifact_name,
    as_written,
    guarded,
    log_file_artifact,
    numeric,
    require,
)

require("keras", "keras")

import keras  # noqa: E402


class LabledgerCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """A Keras callback; ``init_kwargs`` go to ``labledger.init``."""

    def __init__(
        self,
        project: str | None = None,
        *,
        log_model: bool = True,
        model_name: str | None = None,
        log_every_n_batches: int | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self.handle = RunHandle(project, init_kwargs)
        self.log_model = log_model
        self.model_name = model_name
        self.log_every_n_batches = log_every_n_batches
        self._batches = 0

    def on_train_begin(self, logs: Any = None) -> None:
        guarded("recording the model", self.handle.get().update_config, self._config())

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        every = self.log_every_n_batches
        self._batches += 1
        if every and self._batches % every == 0 and logs:
            values = numeric({f"batch/{k}": v for k, v in logs.items()})
            self.handle.get().log(values, step=self._batches)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        values = numeric(logs or {})
        if values:
            self.handle.get().log(values, step=epoch)

    def on_train_end(self, logs: Any = None) -> None:
        run = self.handle.get()
        if self.log_model:
            guarded(
                "logging the model",
                log_file_artifact,
                run,
                self._save,
                "model.keras",
                name=self.model_name or artifact_name(run.project, self.model.name),
                metadata={"framework": "keras", "backend": keras.backend.backend()},
            )
        self.handle.finish()

    def _save(self, path: Path) -> None:
        self.model.save(path)

    def _config(self) -> dict[str, Any]:
        model = self.model
        config: dict[str, Any] = {
            "fit": {k: v for k, v in (self.params or {}).items() if k != "verbose"},
            "model": {
                "name": model.name,
                "class": type(model).__name__,
                "parameters": int(model.count_params()),
                "layers": len(model.layers),
            },
        }
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            settings = optimizer.get_config()
            config["optimizer"] = {
                "class": type(optimizer).__name__,
                **{
                    k: as_written(v)
                    for k, v in settings.items()
                    if isinstance(v, (int, float, str, bool))
                },
            }
        loss = getattr(model, "loss", None)
        if loss is not None:
            config["loss"] = loss if isinstance(loss, str) else getattr(loss, "name", repr(loss))
        return config
