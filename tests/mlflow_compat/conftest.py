"""The real MLflow client against a real ``labledger server`` process on loopback (SQLite
store, artifacts in a folder), shared by the tests of a module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.team import ServerProcess, cli_env, start_server

pytest.importorskip("mlflow")


@dataclass
class Labledger:
    url: str
    db: str
    blobs: Path
    process: ServerProcess


def _mlflow_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    import mlflow

    for name in list(os.environ):
        if name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    mlflow.set_tracking_uri(url)


@pytest.fixture(scope="module")
def labledger_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Labledger]:
    folder = tmp_path_factory.mktemp("labledger-server")
    db = f"sqlite:///{folder / 'labledger.db'}"
    blobs = folder / "blobs"
    args = ["--db", db, "--artifacts", str(blobs), "--no-auth"]
    server = start_server(args, cli_env(folder), folder)
    try:
        yield Labledger(server.url, db, blobs, server)
    finally:
        server.stop()


@pytest.fixture
def tracking(labledger_server: Labledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[Labledger]:
    """The MLflow client pointed at the labledger server, in a fresh experiment."""
    import mlflow

    _mlflow_env(monkeypatch, labledger_server.url)
    mlflow.set_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    yield labledger_server
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def api(labledger_server: Labledger, tmp_path: Path) -> Iterator[object]:
    """labledger's own read API over the server's database."""
    from labledger.config import load_settings
    from labledger.sdk.api import Api

    settings = load_settings(env={"LABLEDGER_URI": labledger_server.db}, cwd=tmp_path)
    yield Api(settings=settings)
