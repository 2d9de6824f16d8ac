"""/api/importance and /api/significance over a real store, in process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from labledger.config import Settings
from labledger.server.deps import Access, Role
from labledger.store.base import Store
from tests.analysis.sweeps import seed_only, sweep
from tests.server.helpers import make_run


def _record(
    store: Store, project: str, configs: list, values: list, name: str = "run"
) -> list[str]:
    return [
        make_run(store, project, name=name, config=c, metrics={"val/acc": [v - 0.1, v]}).run_id
        for c, v in zip(configs, values, strict=True)
    ]


def test_importance_ranks_the_two_keys_that_matter(client: TestClient, store: Store) -> None:
    configs, values = sweep(60)
    _record(store, "sweep", configs, values)
    response = client.get("/api/importance", params={"project": "sweep", "metric": "val/acc"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metric"] == "val/acc" and body["n_runs"] == 60 and body["warning"] is None
    assert {k["key"] for k in body["keys"][:2]} == {"optim.lr", "optim.name"}
    for key in body["keys"][:2]:
        low, high = key["importance_ci"]
        assert 0 < low <= key["importance"] <= high
    assert "random forest" in body["method"]


def test_importance_by_run_ids_and_filter(client: TestClient, store: Store) -> None:
    configs, values = sweep(12)
    ids = _record(store, "sweep", configs, values)
    body = client.get(
        "/api/importance", params={"runs": ",".join(ids[:8]), "metric": "val/acc"}
    ).json()
    assert body["n_runs"] == 8 and "Only 8 runs" in body["warning"]
    filtered = client.get(
        "/api/importance",
        params={"project": "sweep", "filter": "config.layers >= 1", "metric": "metrics.val/acc"},
    ).json()
    assert filtered["n_runs"] == 12


def test_significance_noise_and_real(client: TestClient, store: Store) -> None:
    configs, values = seed_only(8)
    _record(store, "seeds", configs, values)
    noise = client.get("/api/significance", params={"project": "seeds", "metric": "val/acc"}).json()
    assert noise["verdict"] == "noise" and "within seed noise" in noise["sentence"]
    rng = np.random.default_rng(0)
    opt = [{"optimizer": o, "seed": i} for i, o in enumerate(["adam", "sgd"] * 5)]
    vals = [(0.91 if c["optimizer"] == "adam" else 0.87) + rng.normal(0, 0.003) for c in opt]
    ids = _record(store, "opt", opt, vals)
    real = client.get(
        "/api/significance",
        params={"project": "opt", "metric": "val/acc", "by": "config.optimizer"},
    ).json()
    assert real["verdict"] == "real" and real["best"] == "adam" and real["runner_up"] == "sgd"
    assert real["sentence"].startswith("adam beats sgd on val/acc in ")
    group = real["groups"][0]
    assert {"name", "n", "mean", "ci", "values"} <= set(group) and group["n"] == 5
    sets = f"new:{','.join(ids[0::2])};old:{','.join(ids[1::2])}"
    explicit = client.get("/api/significance", params={"sets": sets, "metric": "val/acc"}).json()
    assert explicit["best"] == "new" and explicit["by"] == "runs"
    lower = client.get(
        "/api/significance",
        params={
            "project": "opt",
            "metric": "val/acc",
            "by": "optimizer",
            "higher_is_better": "false",
        },
    ).json()
    assert lower["best"] == "sgd"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"project": "p", "metric": "nope"}, "no chosen run has a numeric metric 'nope'"),
        ({"project": "p", "metric": "val/acc", "by": "zzz"}, "config key 'zzz'"),
        ({"metric": "val/acc"}, "no runs chosen"),
        ({"runs": "zzzzzzzz", "metric": "val/acc"}, "zzzzzzzz"),
        ({"sets": "a:x", "metric": "val/acc", "by": "user"}, "not both"),
        ({"project": "p", "metric": "val/acc", "filter": "config.a >"}, ""),
    ],
)
def test_bad_requests_are_4xx_json(
    client: TestClient, store: Store, params: dict[str, str], message: str
) -> None:
    _record(store, "p", [{"a": 1}, {"a": 2}], [0.5, 0.6])
    for path in ("/api/significance", "/api/importance"):
        if ("sets" in params or "by" in params) and path == "/api/importance":
            continue  # grouping applies to significance only
        response = client.get(path, params=params)
        assert 400 <= response.status_code < 500, response.text
        assert message in response.json()["error"]["message"]
    assert client.get("/api/importance", params={"project": "p"}).status_code == 400  # no metric


@dataclass(frozen=True)
class OnlyProject:
    project: str
    user: str = "viewer-of-one"

    def role(self, project: str) -> Role | None:
        return "viewer" if project == self.project else None

    def visible_projects(self) -> frozenset[str] | None:
        return frozenset({self.project})


@pytest.fixture
def limited(store: Store, server_settings: Settings) -> Iterator[TestClient]:
    from labledger.server.app import create_app

    def authenticate(request: Request) -> Access:
        return OnlyProject("mine")

    app = create_app(store, settings=server_settings, authenticator=authenticate)
    with TestClient(app) as test_client:
        yield test_client


def test_routes_are_authorised_per_project(limited: TestClient, store: Store) -> None:
    mine = _record(store, "mine", [{"a": i} for i in range(6)], [0.1 * i for i in range(6)])
    theirs = _record(store, "theirs", [{"a": i} for i in range(6)], [0.1 * i for i in range(6)])
    ok = limited.get("/api/importance", params={"project": "mine", "metric": "val/acc"})
    assert ok.status_code == 200
    hidden = limited.get("/api/importance", params={"project": "theirs", "metric": "val/acc"})
    assert hidden.status_code == 404 and "theirs" in hidden.json()["error"]["message"]
    by_id = limited.get("/api/significance", params={"runs": theirs[0], "metric": "val/acc"})
    assert by_id.status_code == 404
    sets = f"a:{mine[0]};b:{theirs[0]}"
    assert (
        limited.get("/api/significance", params={"sets": sets, "metric": "val/acc"}).status_code
        == 404
    )
    across = limited.get("/api/importance", params={"filter": "config.a >= 0", "metric": "val/acc"})
    assert across.status_code == 200 and across.json()["n_runs"] == 6
