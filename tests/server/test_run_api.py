"""One run's routes: captures, check, metrics, output, reproductions, diff; series envelopes."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from labledger.store.base import Store
from tests.server.helpers import columns, make_run


def test_captures_check_and_metrics(client: TestClient, store: Store) -> None:
    record = make_run(store, metrics={"loss": [3.0, 1.0, 2.0]})
    store.put_captures(record.run_id, {"git": {"present": True, "commit": "abc", "diff": ""}})
    store.set_summary(record.run_id, {"f1": 0.5})
    captures = client.get(f"/api/runs/{record.run_id}/captures").json()
    assert captures["git"]["commit"] == "abc"
    check = client.get(f"/api/runs/{record.run_id}/check").json()
    assert check["verdict"] in ("pass", "warn", "fail") and check["passed"] == (
        check["verdict"] != "fail"
    )
    assert {"name", "status", "detail", "fix"} <= set(check["items"][0])
    metrics = {m["key"]: m for m in client.get(f"/api/runs/{record.run_id}/metrics").json()}
    assert (metrics["loss"]["min"], metrics["loss"]["max"], metrics["loss"]["count"]) == (1, 3, 3)
    assert metrics["f1"]["count"] == 0 and metrics["f1"]["last"] == 0.5
    for tail in ("captures", "check", "metrics", "output", "artifacts", "reproductions"):
        assert client.get(f"/api/runs/nosuchrun/{tail}").status_code == 404


def test_output_lines_tail_and_search(client: TestClient, store: Store) -> None:
    record = make_run(store)
    store.append_output(
        record.run_id,
        [("stdout", 1.0, "epoch 1\nepoch 2\nloa"), ("stderr", 1.5, "\x1b[31mwarn\x1b[0m\n")],
    )
    store.append_output(record.run_id, [("stdout", 2.0, "ding done\n<script>x</script>\n")])
    lines = client.get(f"/api/runs/{record.run_id}/output").json()
    assert [line["text"] for line in lines] == [
        "epoch 1",
        "epoch 2",
        "loading done",
        "\x1b[31mwarn\x1b[0m",
        "<script>x</script>",
    ]
    assert lines[3]["stream"] == "stderr"
    tail = client.get(f"/api/runs/{record.run_id}/output", params={"tail": 2}).json()
    assert [line["text"] for line in tail] == ["\x1b[31mwarn\x1b[0m", "<script>x</script>"]
    found = client.get(f"/api/runs/{record.run_id}/output", params={"q": "EPOCH"}).json()
    assert len(found) == 2
    assert client.get(f"/api/runs/{record.run_id}/output", params={"tail": 0}).status_code == 400


def test_reproductions_carry_verify_verdicts(client: TestClient, store: Store) -> None:
    original = make_run(store, metrics={"acc": [0.5, 0.9]})
    good = make_run(store, metrics={"acc": [0.5, 0.9]}, reproduces=original.run_id)
    bad = make_run(store, metrics={"acc": [0.5, 0.7]}, reproduces=original.run_id)
    found = client.get(f"/api/runs/{original.run_id}/reproductions").json()
    verdicts = {r["run"]: r["verify"]["passed"] for r in found}
    assert verdicts == {good.run_id: True, bad.run_id: False}
    failing = next(r for r in found if r["run"] == bad.run_id)["verify"]
    assert any(c["key"] == "acc" and not c["passed"] for c in failing["checks"])


def test_diff_shows_only_what_differs(client: TestClient, store: Store) -> None:
    a = make_run(store, config={"lr": 0.1, "opt": "adam"}, metrics={"acc": [0.9]})
    b = make_run(store, config={"lr": 0.2, "opt": "adam"}, metrics={"acc": [0.9]})
    c = make_run(store, config={"lr": 0.1, "opt": "adam", "extra": 1}, metrics={"acc": [0.8]})
    body = client.get("/api/diff", params={"runs": f"{a.run_id},{b.run_id},{c.run_id}"}).json()
    config = {e["key"]: e for e in body["sections"]["config"]}
    assert set(config) == {"lr", "extra"}
    assert config["lr"]["values"] == [0.1, 0.2, 0.1]
    assert config["extra"]["missing"] == [True, True, False]
    assert [e["key"] for e in body["sections"]["metrics"]] == ["acc"]
    assert client.get("/api/diff", params={"runs": a.run_id}).status_code == 400
    assert client.get("/api/diff", params={"runs": f"{a.run_id},nosuch"}).status_code == 404


def test_downsampling_keeps_a_single_spike(client: TestClient, store: Store) -> None:
    record = make_run(store)
    values = np.zeros(200_000)
    values[123_457] = 99.0
    values[5] = np.nan
    for start in range(0, len(values), 50_000):
        part = values[start : start + 50_000]
        store.write_metrics(record.run_id, {"loss": columns(part, start=start)})
    body = client.get(f"/api/runs/{record.run_id}/series", params={"key": "loss"}).json()
    assert (body["total"], body["downsampled"]) == (200_000, True)
    # step-aligned rollup buckets of a power-of-two width: at most the 1000 asked for
    assert 500 <= len(body["steps"]) == len(body["max"]) == len(body["min"]) <= 1000
    assert max(body["max"]) == 99.0
    spike = body["max"].index(99.0)
    assert body["steps"][spike] <= 123_457 < body["steps"][spike + 1]
    assert body["min"][0] == 0.0 and body["times"] == []
    zoom = client.get(
        f"/api/runs/{record.run_id}/series",
        params={"key": "loss", "start": 123_000, "end": 123_999, "points": 1000, "x": "time"},
    ).json()
    assert (zoom["total"], zoom["downsampled"]) == (1000, False)
    assert zoom["steps"] == list(range(123_000, 124_000))
    assert zoom["values"][457] == 99.0 and len(zoom["times"]) == 1000
    nan_bucket = client.get(
        f"/api/runs/{record.run_id}/series", params={"key": "loss", "end": 9}
    ).json()
    assert nan_bucket["values"][5] is None


def test_series_follow_new_points_and_many_at_once(client: TestClient, store: Store) -> None:
    a = make_run(store, metrics={"loss": [3.0, 2.0]})
    b = make_run(store, metrics={"loss": [5.0], "acc": [0.1]})
    first = client.get(f"/api/runs/{a.run_id}/series", params={"key": "loss"}).json()
    assert first["values"] == [3.0, 2.0]
    store.write_metrics(a.run_id, {"loss": columns([1.0], start=2)})
    again = client.get(f"/api/runs/{a.run_id}/series", params={"key": "loss"}).json()
    assert (again["steps"], again["values"]) == ([0, 1, 2], [3.0, 2.0, 1.0])
    many = client.post(
        "/api/series", json={"runs": [a.run_id, b.run_id], "keys": ["loss", "acc"], "points": 2}
    ).json()
    assert [(s["run"], s["key"], s["total"]) for s in many] == [
        (a.run_id, "loss", 3),
        (a.run_id, "acc", 0),
        (b.run_id, "loss", 1),
        (b.run_id, "acc", 1),
    ]
    assert many[0]["downsampled"] and max(many[0]["max"]) == 3.0 and len(many[0]["max"]) <= 2


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"key": "loss", "points": "0"},
        {"key": "loss", "x": "banana"},
        {"key": "loss", "start": "a"},
    ],
)
def test_bad_series_requests(client: TestClient, store: Store, params: dict[str, str]) -> None:
    record = make_run(store, metrics={"loss": [1.0]})
    assert client.get(f"/api/runs/{record.run_id}/series", params=params).status_code == 400
    assert client.post("/api/series", json={"runs": []}).status_code == 400
    assert client.post("/api/series", content=b"not json").status_code == 400
