"""CLI test helpers: a private store per test, runs made through the real SDK, and a runner
that keeps stdout and stderr apart."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import labledger as ll
from labledger.cli.main import cli
from labledger.sdk.backend import close_stores


@pytest.fixture(autouse=True)
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own store folder (the CLI finds it through LABLEDGER_DIR)."""
    store = tmp_path / "store"
    monkeypatch.setenv("LABLEDGER_DIR", str(store))
    monkeypatch.setenv("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
    monkeypatch.setenv("LABLEDGER_CAPTURE_CONSOLE", "0")
    monkeypatch.delenv("LABLEDGER_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    yield store
    close_stores()


def make_run(
    project: str = "digits",
    config: Mapping[str, Any] | None = None,
    metrics: Sequence[Mapping[str, float]] = (),
    *,
    name: str | None = None,
    summary: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    notes: str | None = None,
    capture: bool = False,
    fail: str | None = None,
) -> str:
    """Record one run through the SDK; ``fail`` raises that message inside the run."""
    try:
        with ll.init(
            project=project,
            config=dict(config or {}),
            name=name,
            tags=tags,
            notes=notes,
            capture=capture,
        ) as run:
            run_id = run.id
            for point in metrics:
                run.log(dict(point))
            if summary:
                run.summary.update(summary)
            if fail is not None:
                raise RuntimeError(fail)
    except RuntimeError:
        if fail is None:
            raise
    return run_id


def invoke(*args: str) -> Result:
    """Run ``labledger ARGS`` in-process (exceptions other than exits are re-raised)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def console_script() -> str:
    """The installed ``labledger`` entry point: beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "labledger"
    path = str(beside) if beside.exists() else shutil.which("labledger")
    if path is None:
        pytest.skip("the labledger console script is not installed")
    return path


def run_script(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
