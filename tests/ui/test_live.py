"""A running run's page updates by itself: its chart gains points while a training process
logs, the console tail grows, and a SIGKILL turns the status to crashed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.ui.conftest import Server

TRAIN = """
import time
import labledger as ll

run = ll.init(project="live", name="live-run", config={"lr": 0.1})
run.flush()  # init returns before the store is open; the page is opened once the run is stored
print(run.id, flush=True)
for step in range(100_000):
    run.log({"train/loss": 1.0 / (1 + step)}, step=step)
    if step % 10 == 0:
        print(f"step {step}", flush=True)
    time.sleep(0.05)
"""


def points(page: Any) -> int:
    return int(page.locator(".chart[data-key='train/loss']").get_attribute("data-points") or 0)


def test_live_run_gains_points_and_turns_crashed(
    ui_page: Any, server: Server, tmp_path: Path
) -> None:
    page = ui_page
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(TRAIN))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env=server.env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        page.goto(f"{server.url}/run/{run_id}")
        page.locator("#live").wait_for()
        page.locator(".chart[data-key='train/loss']").wait_for()
        start = points(page)
        chart = "document.querySelector(\".chart[data-key='train/loss']\")"
        page.wait_for_function(f"Number({chart}.dataset.points) >= {start + 20}")
        assert page.locator("#run-status .status").inner_text() == "running"

        page.locator(".tabs a[data-tab=console]").click()
        page.locator("pre.console", has_text="step").wait_for()
        lines = page.locator("pre.console span").count()
        page.wait_for_function(f"document.querySelectorAll('pre.console span').length > {lines}")

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        page.locator("#run-status .status", has_text="crashed").wait_for(timeout=30_000)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
