"""torchrun with two CPU ranks (gloo): one run group, rank 0 logs, every rank's process is
recorded, and a rank that dies shows as crashed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labledger as ll

SCRIPT = """
import os, sys
import torch
import torch.distributed as dist
from labledger.integrations import torchrun

dist.init_process_group("gloo")
rank = dist.get_rank()
model = torch.nn.Linear(3, 1)
torch.manual_seed(0)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
run = torchrun.init(project="ddp", config={"lr": 0.1}, capture=True)
for step in range(4):
    x = torch.randn(8, 3)
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
    opt.zero_grad(); loss.backward()
    for p in model.parameters():
        dist.all_reduce(p.grad); p.grad /= dist.get_world_size()
    opt.step()
    run.log({"loss": loss.item()}, step=step)
if rank == 1 and sys.argv[1] == "die":
    os._exit(3)
dist.barrier()
run.finish()
dist.destroy_process_group()
"""


def _torchrun(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(SCRIPT))
    launcher = Path(sys.executable).parent / "torchrun"
    command = [str(launcher)] if launcher.exists() else [shutil.which("torchrun") or "torchrun"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, "--standalone", "--nproc-per-node", "2", str(script), mode],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow
def test_two_ranks_are_one_group_rank0_logs_and_a_dead_rank_is_crashed(tmp_path: Path) -> None:
    done = _torchrun(tmp_path, "die")  # rank 1 exits hard after training; torchrun stops rank 0
    assert done.returncode != 0
    runs = ll.runs("ddp")
    assert len(runs) == 2
    assert len({r.record.group for r in runs}) == 1
    by_rank = {r.config["distributed"]["rank"]: r for r in runs}
    assert by_rank[0].config["lr"] == 0.1 and "lr" not in by_rank[1].config
    assert by_rank[0].history("loss")[0].tolist() == [0, 1, 2, 3]
    assert by_rank[1].metric_keys() == []
    assert all(r.config["distributed"]["world_size"] == 2 for r in runs)
    assert len({r.record.pid for r in runs}) == 2 and all(r.record.host for r in runs)
    assert by_rank[1].status == "crashed"
    assert by_rank[0].status in ("killed", "crashed", "failed")
