"""PyTorch Lightning: a tiny regression model trained two epochs through the real Trainer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import labledger as ll
from labledger.integrations.lightning import LabledgerLogger


class Regressor(pl.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def _loader(seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=16)


def _trainer(tmp_path: Path, logger: LabledgerLogger, **kwargs) -> pl.Trainer:
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ckpt", monitor="val_loss", save_top_k=1, save_last=True
    )
    return pl.Trainer(
        accelerator="cpu",
        max_epochs=3,
        logger=logger,
        callbacks=[checkpoint],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        **kwargs,
    )


def test_trainer_records_hparams_metrics_checkpoints_and_status(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, LabledgerLogger(project="pl", tags=["tiny"]))
    trainer.fit(Regressor(lr=0.05), _loader(0), _loader(1))

    (run,) = ll.runs("pl")
    assert run.status == "finished" and run.record.tags == ["tiny"]
    assert run.config["lr"] == 0.05 and run.config["hidden"] == 8
    assert run.config["model"]["parameters"] == 4 * 8 + 8 + 8 + 1
    assert run.config["trainer"]["max_epochs"] == 3
    assert run.config["optimizer"]["class"] == "Adam" and run.config["optimizer"]["lr"] == 0.05
    steps, _ = run.history("train_loss")
    assert steps.tolist() == list(range(trainer.global_step))  # 4 batches x 3 epochs
    val_steps, _ = run.history("val_loss")
    assert len(val_steps) == 3

    checkpoint = trainer.checkpoint_callback
    best = ll.Api().store.artifacts.get_version(f"checkpoint-{run.id}", "best")
    digest = hashlib.sha256(Path(checkpoint.best_model_path).read_bytes()).hexdigest()
    assert best.digest == digest
    assert best.metadata["score"] == pytest.approx(float(checkpoint.best_model_score))
    assert len(ll.Api().store.artifacts.list_versions(f"checkpoint-{run.id}")) >= 2


def test_a_failing_fit_fails_the_run(tmp_path: Path) -> None:
    class Broken(Regressor):
        def training_step(self, batch, batch_idx):
            raise RuntimeError("exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        _trainer(tmp_path, LabledgerLogger(project="pl")).fit(Broken(), _loader(0), _loader(1))
    (run,) = ll.runs("pl")
    assert run.status == "failed"
