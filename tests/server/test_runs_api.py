"""The runs table API: server-side filter, sort, paging, columns, groups; access rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from labledger.config import Settings
from labledger.entities import RunStatus
from labledger.errors import Unauthorized
from labledger.server.app import create_app
from labledger.server.deps import Access, Role
from labledger.store.base import Store
from tests.server.helpers import make_run


@pytest.fixture
def sweep(store: Store) -> list[str]:
    ids = []
    for i, (opt, lr) in enumerate([("adam", 0.1), ("sgd", 0.1), ("adam", 0.01), ("sgd", 0.01)]):
        record = make_run(
            store,
            name=f"run-{i}",
            config={"opt": opt, "lr": lr, "model": {"depth": i}},
            metrics={"acc": [0.1, 0.5 + i / 10, 0.4 + i / 10], "loss": [1.0 - i / 10, 0.9]},
            created_at=1000.0 + i,
            tags=["sweep"],
        )
        ids.append(record.run_id)
    make_run(store, "other", name="elsewhere")
    return ids


def test_filter_sort_columns_and_paging(client: TestClient, sweep: list[str]) -> None:
    params = {
        "project": "p",
        "filter": "config.opt = 'adam' or metrics.acc > 0.65",
        "sort": "-metrics.acc.max",
        "columns": "config.opt,config.model.depth,metrics.acc.last,metrics.acc.max",
    }
    body = client.get("/api/runs", params=params).json()
    assert body["total"] == 3
    assert [r["id"] for r in body["rows"]] == [sweep[3], sweep[2], sweep[0]]
    assert body["columns"] == params["columns"].split(",")
    top = body["rows"][0]
    assert top["values"] == {
        "config.opt": "sgd",
        "config.model.depth": 3,
        "metrics.acc.last": 0.7,
        "metrics.acc.max": 0.8,
    }
    assert top["tags"] == ["sweep"] and top["status"] == "finished"
    page = client.get("/api/runs", params={**params, "offset": 1, "limit": 1}).json()
    assert (page["total"], [r["id"] for r in page["rows"]]) == (3, [sweep[2]])
    by_config = client.get("/api/runs", params={"project": "p", "sort": "config.lr,-name"})
    assert [r["id"] for r in by_config.json()["rows"]] == [sweep[3], sweep[2], sweep[1], sweep[0]]
    everything = client.get("/api/runs").json()
    assert everything["total"] == 5


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"filter": "metrics.acc >"}, "invalid_filter"),
        ({"filter": "colour = 'red'"}, "invalid_filter"),
        ({"filter": "metrics.acc > 'high'"}, "invalid_filter"),
        ({"sort": "-nonsense"}, "invalid_filter"),
        ({"columns": "name"}, "invalid_filter"),
        ({"limit": "0"}, "invalid_request"),
        ({"limit": "100000"}, "invalid_request"),
        ({"offset": "-1"}, "invalid_request"),
        ({"offset": "x"}, "invalid_request"),
    ],
)
def test_bad_input_is_a_400(client: TestClient, params: dict[str, str], code: str) -> None:
    response = client.get("/api/runs", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_filter_error_points_at_the_column(client: TestClient) -> None:
    error = client.get("/api/runs", params={"filter": "metrics.acc > 0.5 and nope = 1"}).json()
    assert error["error"]["position"] == 22
    assert "nope" in error["error"]["message"]


def test_groups_by_config_key(client: TestClient, sweep: list[str]) -> None:
    groups = client.get(
        "/api/runs/groups", params={"project": "p", "by": "config.opt", "metric": "metrics.acc"}
    ).json()
    assert [(g["value"], g["count"]) for g in groups] == [("adam", 2), ("sgd", 2)]
    adam = groups[0]
    assert adam["mean"] == pytest.approx(0.5)
    assert adam["std"] == pytest.approx(((0.1**2) * 2) ** 0.5)
    by_status = client.get("/api/runs/groups", params={"by": "status"}).json()
    assert by_status == [{"value": "finished", "count": 5, "n": 0, "mean": None, "std": None}]
    assert client.get("/api/runs/groups", params={"by": "bogus"}).status_code == 400
    assert client.get("/api/runs/groups").status_code == 400


def test_a_dead_running_run_shows_as_crashed(client: TestClient, store: Store) -> None:
    record = make_run(store, status=RunStatus.RUNNING, host="elsewhere", heartbeat_at=1.0)
    row = client.get("/api/runs", params={"project": "p"}).json()["rows"][0]
    assert (row["id"], row["status"]) == (record.run_id, "crashed")
    assert client.get(f"/api/runs/{record.run_id}").json()["status"] == "crashed"


@dataclass(frozen=True)
class OneProject:
    user: str = "ann"

    def role(self, project: str) -> Role | None:
        return "viewer" if project == "p" else None

    def visible_projects(self) -> frozenset[str] | None:
        return frozenset({"p"})


def _token_auth(request: Request) -> Access:
    if request.headers.get("authorization") != "Bearer good":
        raise Unauthorized("missing or invalid token")
    return OneProject()


def test_access_hides_other_projects(
    store: Store, server_settings: Settings, sweep: list[str]
) -> None:
    hidden = make_run(store, "secret", name="hidden")
    app = create_app(store, settings=server_settings, authenticator=_token_auth)
    with TestClient(app) as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/api/health").status_code == 200
        client.headers["Authorization"] = "Bearer good"
        assert client.get("/api/runs").json()["total"] == 4
        assert [p["name"] for p in client.get("/api/projects").json()] == ["p"]
        for path in (f"/api/runs/{hidden.run_id}", "/api/runs?project=secret"):
            response = client.get(path)
            assert response.status_code == 404
            assert "secret" not in response.text or "no project" in response.text
