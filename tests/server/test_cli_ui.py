"""`labledger ui` as a real process: it prints its URL and serves the pages and the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from labledger.store import open_store
from tests.server.helpers import make_run

CLI = "from labledger.cli.main import main; main()"


@pytest.mark.slow
def test_ui_command_serves_the_current_store(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    store = open_store(f"sqlite:///{folder / 'labledger.db'}")
    record = make_run(store, "demo", name="served")
    store.close()
    env = {**os.environ, "LABLEDGER_DIR": str(folder)}
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "ui", "--no-browser", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, (
            f"no URL in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
        base = match.group(0)
        with httpx.Client(base_url=base, timeout=10) as http:
            page = http.get("/runs?project=demo")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert http.get(f"/api/runs/{record.run_id}").json()["name"] == "served"
    finally:
        process.terminate()
        process.wait(timeout=10)
