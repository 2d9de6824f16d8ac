"""Transformers: a one-layer BERT built from a config (never downloaded), trained 4 steps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
)

import labledger as ll
import labledger.integrations.transformers  # registers report_to="labledger"


class Toy(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 30, (n, 8), generator=generator)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones(8, dtype=torch.long),
            "labels": self.labels[i],
        }


def test_trainer_with_report_to_labledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABLEDGER_PROJECT", "hf")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    model = BertForSequenceClassification(config)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="no",
        report_to="labledger",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Toy(16, 0), eval_dataset=Toy(8, 1))
    trainer.train()

    (run,) = ll.runs("hf")
    assert run.status == "finished"
    assert run.config["training_args"]["learning_rate"] == 1e-3
    assert run.config["training_args"]["max_steps"] == 4
    assert run.config["model_config"]["hidden_size"] == 16
    assert run.config["model"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert run.history("train/loss")[0].tolist() == [1, 2, 3, 4]
    assert run.history("eval/loss")[0].tolist() == [2, 4]
    assert run.metrics["train/runtime"] > 0 and "train/mean_loss" in run.metrics

    (version,) = ll.Api().store.artifacts.produced_by(run.id)
    assert {"config.json", "model.safetensors"} <= {e["path"] for e in version.manifest}
    restored = BertForSequenceClassification.from_pretrained(ll.use_artifact(version.ref))
    for (name, a), (_, b) in zip(
        model.state_dict().items(), restored.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
