"""Issue 10, crash matrix: a training script ends by SIGKILL, SIGTERM, SIGINT, an uncaught
exception, ``os._exit`` (from another thread, at a random moment) or ``sys.exit(3)``, with and
without a ``with`` block, while logging and while uploading artifacts. Afterwards every flushed
point is readable exactly once, no partial artifact version is visible (every version's blobs
re-hash to their digests), the status and exit code are right, and ``gc`` leaves no temp file.

Random moments come from a seed (printed; ``LABLEDGER_TEST_SEED`` replays it)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import labledger as ll

pytestmark = pytest.mark.slow

SCRIPT = """
import os, random, sys, threading
import labledger as ll
work, ending, use_with, seed = sys.argv[1], sys.argv[2], sys.argv[3] == "with", int(sys.argv[4])
rng = random.Random(seed)
at = rng.randrange(3, 12)  # the loop turn at which an in-process ending fires
blob = os.path.join(os.path.dirname(os.path.abspath(__file__)), "blob.bin")
with open(blob, "wb") as f:
    f.write(os.urandom(2 * 1024 * 1024))

def body(run):
    step = 0
    run.flush()  # init returns before the run is written: the endings start once it is
    print("ready", flush=True)
    if ending == "os_exit":  # from a watchdog thread, wherever the main thread is
        threading.Timer(rng.uniform(0.05, 0.6), os._exit, (5,)).start()
    for turn in range(10**6):
        for _ in range(50):
            run.log({"loss": float(step)}, step=step)
            step += 1
        if work == "artifact":
            run.log_artifact(blob, name="weights", metadata={"turn": turn})
        run.flush()
        print(f"flushed {step}", flush=True)
        if turn == at and ending == "exception":
            raise RuntimeError("boom")
        if turn == at and ending == "sys_exit":
            sys.exit(3)

if use_with:
    with ll.init(project="p", capture=False) as run:
        body(run)
else:
    body(ll.init(project="p", capture=False))
"""

SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
ENDINGS = [*SIGNALS, "exception", "os_exit", "sys_exit"]
EXPECTED = {  # ending -> (acceptable exit codes, status, recorded exit code or None to skip)
    "SIGKILL": ({-9}, ll.RunStatus.CRASHED, None),
    "SIGTERM": ({-15, 1, 143}, ll.RunStatus.KILLED, None),
    "SIGINT": ({-2, 1, 130}, ll.RunStatus.KILLED, None),
    "exception": ({1}, ll.RunStatus.FAILED, 1),
    "os_exit": ({5}, ll.RunStatus.CRASHED, None),
    "sys_exit": ({3}, ll.RunStatus.FAILED, 3),
}


@pytest.mark.parametrize("use_with", ["with", "bare"])
@pytest.mark.parametrize("work", ["log", "artifact"])
@pytest.mark.parametrize("ending", ENDINGS)
def test_crash_matrix(
    tmp_path: Path, ending: str, work: str, use_with: str, record_property: Any
) -> None:
    seed = int(os.environ.get("LABLEDGER_TEST_SEED") or random.randrange(1 << 30))
    print(f"LABLEDGER_TEST_SEED={seed}")
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    store = tmp_path / "store"
    env = {**os.environ, "LABLEDGER_DIR": str(store)}
    proc = subprocess.Popen(
        [sys.executable, str(script), work, ending, use_with, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    if ending in SIGNALS:
        time.sleep(random.Random(seed).uniform(0.2, 1.2))
        proc.send_signal(SIGNALS[ending])
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{ending} during {work}: the process hung")
    codes, status, exit_code = EXPECTED[ending]
    assert proc.returncode in codes, err
    lines = [line for line in out.splitlines() if line.startswith("flushed ")]
    flushed = max((int(line.split()[1]) for line in lines), default=0)

    (view,) = ll.runs("p")
    assert view.status is status, (view.status, err)
    if exit_code is not None:
        assert view.record.exit_code == exit_code
    steps = view.history("loss").steps.tolist()
    record_property("points_lost", max(0, flushed - len(set(steps))))
    assert steps == list(range(len(steps))), "a point was lost or written twice"
    assert len(steps) >= flushed, f"flushed {flushed} points, {len(steps)} readable"

    from labledger.config import load_settings
    from labledger.sdk.artifacts import Artifacts
    from labledger.sdk.backend import get_store

    settings = load_settings(env={"LABLEDGER_DIR": str(store)})
    service = Artifacts(get_store(settings), settings)
    versions = service.versions()
    if work == "artifact":
        assert versions or flushed == 0
    for version in versions:
        assert service.verify(f"{version.name}:v{version.version}") == [], "partial version"
    service.gc(min_age=0)
    leftovers = [p.name for p in store.rglob("*.tmp")]
    assert not leftovers, leftovers
