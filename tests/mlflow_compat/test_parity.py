"""The same invalid requests to labledger's endpoint and to MLflow's own server (``mlflow
server`` on SQLite, started here) get the same HTTP status and MLflow error code."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.mlflow_compat.conftest import Labledger

pytest.importorskip("mlflow.server")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(folder / "mlflow.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (folder / "mlflow.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _requests(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of invalid requests, against a fresh run on ``url``."""
    api = f"{url}/api/2.0/mlflow"
    experiment = httpx.post(f"{api}/experiments/create", json={"name": f"parity-{time.time()}"})
    experiment_id = experiment.json()["experiment_id"]
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": experiment_id})
    run_id = run.json()["run"]["info"]["run_id"]
    httpx.post(f"{api}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "a"})
    metric = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    return [
        ("POST", "runs/log-batch", {"run_id": run_id, "metrics": [metric] * 1001}),
        (
            "POST",
            "runs/log-batch",
            {"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        ),
        (
            "POST",
            "runs/log-batch",
            {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
        ),
        ("POST", "runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "b"}]}),
        ("POST", "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "c"}),
        (
            "POST",
            "runs/log-batch",
            {"run_id": run_id, "params": [{"key": "q", "value": "1"}, {"key": "q", "value": "2"}]},
        ),
        ("POST", "runs/log-metric", {"run_id": run_id, "key": "../x", "value": 1, "timestamp": 1}),
        ("GET", "runs/get", {"run_id": "0123456789abcdef0123456789abcdef"}),
        (
            "POST",
            "runs/log-batch",
            {"run_id": "0123456789abcdef0123456789abcdef", "metrics": [metric]},
        ),
        ("GET", "experiments/get", {"experiment_id": "424242"}),
        ("GET", "experiments/get-by-name", {"experiment_name": "no-such-experiment"}),
        ("POST", "experiments/create", {"name": "Default"}),
        ("POST", "runs/search", {"experiment_ids": [experiment_id], "filter": "metrics.m >"}),
        ("POST", "runs/delete-tag", {"run_id": run_id, "key": "never-set"}),
    ]


def _answer(url: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, str]:
    target = f"{url}/api/2.0/mlflow/{path}"
    if method == "GET":
        response = httpx.get(target, params=body, timeout=30)
    else:
        response = httpx.post(target, json=body, timeout=30)
    return response.status_code, response.json().get("error_code", "")


@pytest.mark.slow
def test_invalid_requests_get_mlflows_own_error_codes(
    labledger_server: Labledger, mlflow_server: str
) -> None:
    ours = [_answer(labledger_server.url, *r) for r in _requests(labledger_server.url)]
    theirs = [_answer(mlflow_server, *r) for r in _requests(mlflow_server)]
    paths = [f"{m} {p}" for m, p, _ in _requests(mlflow_server)]
    assert list(zip(paths, ours, strict=True)) == list(zip(paths, theirs, strict=True))
    assert all(status >= 400 for status, _ in theirs)
