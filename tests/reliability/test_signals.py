"""Issue 10, signals: SIGTERM/SIGINT at any moment (inside flush, log_artifact, finish) end the
run ``killed`` promptly with every point exactly once (before: SIGTERM inside flush hung the
process, SIGINT inside flush wrote a batch twice)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import labledger as ll

pytestmark = pytest.mark.slow

BODY = """
import os, sys, time
import labledger as ll
where = sys.argv[1]
run = ll.init(project="p", capture=False)
blob = os.path.join(os.path.dirname(__file__), "blob.bin")
with open(blob, "wb") as f:
    f.write(os.urandom(256 * 1024))
print("ready", flush=True)
step = 0
{body}
"""

LOOPS = {
    "flush": """
while True:
    for _ in range(50):
        run.log({"loss": float(step), "acc": 0.5}, step=step)
        step += 1
    run.flush()
""",
    "log_artifact": """
i = 0
while True:
    for _ in range(20):
        run.log({"loss": float(step)}, step=step)
        step += 1
    run.log_artifact(blob, name="weights", metadata={"i": i})
    i += 1
""",
    "finish": """
for _ in range(2000):
    run.log({"loss": float(step)}, step=step)
    step += 1
while True:
    run.finish()
    run = ll.init(project="p", capture=False)
    for _ in range(200):
        run.log({"loss": float(step)}, step=step)
        step += 1
""",
}


def launch(tmp_path: Path, where: str) -> subprocess.Popen[str]:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(BODY).format(body=LOOPS[where]))
    env = {**os.environ, "LABLEDGER_DIR": str(tmp_path / "store")}
    proc = subprocess.Popen(
        [sys.executable, str(path), where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def check_killed_exactly_once(proc: subprocess.Popen[str], sig: int, where: str) -> None:
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{signal.Signals(sig).name} inside {where}: the process hung")
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code in (-sig, 1, 130), stderr
    runs = ll.runs("p")
    assert runs, stderr
    killed = [r for r in runs if r.status is not ll.RunStatus.FINISHED]
    assert len(killed) == 1 and killed[0].status is ll.RunStatus.KILLED, stderr
    steps: list[int] = []
    for view in sorted(runs, key=lambda r: r.record.created_at):
        steps += view.history("loss").steps.tolist()
    assert steps == list(range(len(steps))), "a point was lost or written twice"


@pytest.mark.parametrize("where", sorted(LOOPS))
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_inside_flush_artifact_or_finish(tmp_path: Path, where: str, sig: int) -> None:
    seed = int(os.environ.get("LABLEDGER_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed}")
    delay = random.Random(seed).uniform(0.2, 1.0)
    proc = launch(tmp_path, where)
    time.sleep(delay)
    proc.send_signal(sig)
    check_killed_exactly_once(proc, sig, where)
