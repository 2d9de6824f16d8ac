"""The app factory, error shape, pages and the run routes every page starts from."""

from __future__ import annotations

from fastapi.testclient import TestClient

from labledger.entities import RunStatus
from labledger.store.base import Store
from tests.server.helpers import make_run


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    schema = client.get("/api/openapi.json").json()
    assert "/api/runs" in schema["paths"]


def test_pages_return_the_front_end(client: TestClient) -> None:
    for path in ("/", "/runs?project=p", "/run/abc", "/compare?runs=a,b"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]


def test_unknown_api_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_projects_count_runs(client: TestClient, store: Store) -> None:
    make_run(store, "a")
    make_run(store, "a", status=RunStatus.RUNNING, pid=None, heartbeat_at=None)
    make_run(store, "b")
    projects = {p["name"]: p for p in client.get("/api/projects").json()}
    assert set(projects) == {"a", "b"}
    assert projects["a"]["runs"] == 2
    assert sum(count for _, count in projects["a"]["runs_per_day"]) == 2


def test_run_record_and_unknown_run(client: TestClient, store: Store) -> None:
    record = make_run(store, name="<img src=x onerror=alert(1)>", config={"lr": 0.1})
    body = client.get(f"/api/runs/{record.run_id}").json()
    assert body["name"] == "<img src=x onerror=alert(1)>"
    assert body["config"] == {"lr": 0.1}
    missing = client.get("/api/runs/zzzzzzzz")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert client.get("/api/runs/'%3B drop").status_code == 404


def test_runs_table_basic_and_bad_filter(client: TestClient, store: Store) -> None:
    for lr in (0.1, 0.2, 0.3):
        make_run(store, config={"lr": lr}, metrics={"acc": [0.5, lr]})
    body = client.get(
        "/api/runs",
        params={"project": "p", "sort": "-config.lr", "columns": "config.lr,metrics.acc.last"},
    ).json()
    assert body["total"] == 3
    assert [r["values"]["config.lr"] for r in body["rows"]] == [0.3, 0.2, 0.1]
    assert [r["values"]["metrics.acc.last"] for r in body["rows"]] == [0.3, 0.2, 0.1]
    bad = client.get("/api/runs", params={"filter": "metrics.acc >"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["code"], error["position"]) == ("invalid_filter", 13)
    assert client.get("/api/runs", params={"limit": "lots"}).status_code == 400


def test_project_keys_list_every_column(client: TestClient, store: Store) -> None:
    make_run(store, "a", config={"opt": "adam", "model": {"depth": 2}}, metrics={"loss": [1.0]})
    make_run(store, "a", config={"lr": 0.1}, metrics={"system/cpu": [5.0]})
    make_run(store, "b", config={"other": 1}, metrics={"acc": [1.0]})
    keys = client.get("/api/projects/a/keys").json()
    assert keys == {"config": ["lr", "model.depth", "opt"], "metrics": ["loss", "system/cpu"]}
    assert client.get("/api/projects/nope/keys").status_code == 404
