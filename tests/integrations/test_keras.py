"""Keras 3 on the torch backend: a tiny dense model fitted for three epochs."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

import labledger as ll
from labledger.integrations.keras import LabledgerCallback


def test_fit_records_params_epoch_metrics_and_model() -> None:
    assert keras.backend.backend() == "torch"
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)],
        name="tiny",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(
        x,
        y,
        validation_split=0.25,
        epochs=3,
        batch_size=16,
        verbose=0,
        callbacks=[LabledgerCallback(project="keras", log_every_n_batches=1)],
    )

    (run,) = ll.runs("keras")
    assert run.status == "finished"
    assert run.config["fit"]["epochs"] == 3
    assert run.config["model"]["parameters"] == 4 * 8 + 8 + 8 + 1
    assert run.config["optimizer"]["class"] == "Adam"
    assert run.config["optimizer"]["learning_rate"] == 0.01
    assert run.config["loss"] == "mse"
    for key in ("loss", "val_loss", "mae", "val_mae"):
        steps, values = run.history(key)
        assert steps.tolist() == [0, 1, 2]
        assert np.allclose(values, history.history[key], rtol=1e-6)
    assert len(run.history("batch/loss")[0]) == 3 * 3  # 48 training rows / 16, three epochs

    (version,) = ll.Api().store.artifacts.produced_by(run.id)
    path = ll.use_artifact(version.ref)
    restored = keras.saving.load_model(path if path.is_file() else path / "model.keras")
    assert np.allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
