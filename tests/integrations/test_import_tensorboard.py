"""`labledger import tensorboard`: event files written by torch's SummaryWriter, read back
with tensorboard's event reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from torch.utils.tensorboard import SummaryWriter

import labledger as ll
from labledger.cli.main import cli


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_tensorboard_scalars_and_hparams(tmp_path: Path) -> None:
    logdir = tmp_path / "tb_logs"
    expected = {}
    for name, lr in (("run_a", 0.1), ("run_b", 0.01)):
        writer = SummaryWriter(str(logdir / name))
        losses = [1.0 / (step + 1) + lr for step in range(5)]
        for step, loss in enumerate(losses):
            writer.add_scalar("train/loss", loss, step * 10)
        writer.add_hparams({"lr": lr, "optimizer": "sgd"}, {"hp/acc": 0.9}, run_name=".")
        writer.close()
        expected[name] = (lr, losses)

    out = _invoke("import", "tensorboard", str(logdir), "-q")
    assert "imported 2 run(s); 0 already present" in out
    runs = {r.name: r for r in ll.runs("tb_logs")}
    assert set(runs) == {"run_a", "run_b"}
    for name, (lr, losses) in expected.items():
        run = runs[name]
        assert run.config == {"lr": lr, "optimizer": "sgd"}
        steps, values = run.history("train/loss")
        assert steps.tolist() == [0, 10, 20, 30, 40]
        assert values.tolist() == [float(np.float32(v)) for v in losses]  # TensorBoard's float32
        assert run.metrics["hp/acc"] == float(np.float32(0.9))
        origin = run.captures()["origin"]
        assert origin["source"] == "tensorboard" and origin["run"] == name
    assert "imported 0 run(s); 2 already present" in _invoke(
        "import", "tensorboard", str(logdir), "-q"
    )
