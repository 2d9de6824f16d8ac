"""``MLFLOW_TRACKING_TOKEN`` is a labledger API token, with that user's project roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labledger.store import auth_store, open_store
from tests.server.team import ServerProcess, add_team, cli_env, start_server

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


@pytest.fixture
def team_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'team.db'}"
    store = open_store(db)
    tokens = add_team(auth_store(store))
    store.close()
    server: ServerProcess = start_server(
        ["--db", db, "--artifacts", str(tmp_path / "blobs")], cli_env(tmp_path), tmp_path
    )
    try:
        yield server.url, tokens
    finally:
        server.stop()


def _client(url: str, token: str | None, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    if token is None:
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    return MlflowClient(tracking_uri=url)


def _code(call: object) -> str:
    with pytest.raises(MlflowException) as raised:
        call()  # type: ignore[operator]
    return str(raised.value.error_code)


def test_tokens_carry_project_roles(
    team_server: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tokens = team_server
    alice = _client(url, tokens["alice"], monkeypatch)  # writer in vision
    experiment_id = alice.create_experiment("vision")
    run = alice.create_run(experiment_id, run_name="cat-detector")
    alice.log_metric(run.info.run_id, "acc", 0.9)
    assert _code(lambda: alice.create_experiment("brand-new")) == "PERMISSION_DENIED"

    bob = _client(url, tokens["bob"], monkeypatch)  # viewer in vision
    assert bob.get_run(run.info.run_id).data.metrics == {"acc": 0.9}
    assert _code(lambda: bob.log_metric(run.info.run_id, "acc", 0.1)) == "PERMISSION_DENIED"
    assert _code(lambda: bob.create_run(experiment_id)) == "PERMISSION_DENIED"

    carol = _client(url, tokens["carol"], monkeypatch)  # audio only: vision is invisible
    assert _code(lambda: carol.get_run(run.info.run_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert _code(lambda: carol.get_experiment(experiment_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert carol.get_experiment_by_name("vision") is None
    assert "vision" not in [e.name for e in carol.search_experiments()]

    anonymous = httpx.get(f"{url}/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id})
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "UNAUTHENTICATED")
    wrong = _client(url, "not-a-token", monkeypatch)
    assert _code(lambda: wrong.get_run(run.info.run_id)) == "UNAUTHENTICATED"
