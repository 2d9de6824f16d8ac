"""MLflow client code, unchanged, logging into labledger: what it logs reads back equal
through MLflow's client and through labledger's ``Api``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mlflow_compat.conftest import Labledger

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def test_a_logged_run_reads_back_equal_through_mlflow_and_labledger(
    tracking: Labledger, api: Any
) -> None:
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", "0.01")
        mlflow.log_params({"optimizer": "adam", "layers": 3, "model.dropout": 0.25})
        for step in range(5):
            mlflow.log_metric("acc", 0.5 + step * 0.1, step=step)
        mlflow.log_metrics({"loss": 0.3, "f1": 0.75}, step=7)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev", "mlflow.note.content": "first try"})
    run_id = run.info.run_id

    got = MlflowClient().get_run(run_id)
    params = {"lr": "0.01", "optimizer": "adam", "layers": "3", "model.dropout": "0.25"}
    assert got.data.params == params
    assert got.data.metrics == {"acc": pytest.approx(0.9), "loss": 0.3, "f1": 0.75}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["mlflow.runName"] == "baseline"
    assert got.data.tags["mlflow.note.content"] == "first try"
    assert got.info.status == "FINISHED" and got.info.end_time >= got.info.start_time
    history = MlflowClient().get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in history] == [(i, 0.5 + i * 0.1) for i in range(5)]

    view = api.run(run_id)
    assert view.name == "baseline" and str(view.status) == "finished"
    assert view.project == mlflow.get_experiment(run.info.experiment_id).name
    assert {k: str(v) for k, v in view.params.items()} == params
    record = api.store.get_run(run_id)
    assert {"team=vision", "stage=dev"} <= set(record.tags)
    assert record.notes == "first try"
    series = view.series("acc")
    assert series.steps.tolist() == [m.step for m in history]
    assert series.values.tolist() == [m.value for m in history]
    assert [round(t * 1000) for t in series.times.tolist()] == [m.timestamp for m in history]
    assert view.series("loss").steps.tolist() == [7]


def test_search_runs_with_mlflow_filters_order_and_pages(tracking: Labledger) -> None:
    experiment = mlflow.get_experiment(_current())
    ids = {}
    for name, lr, acc in [
        ("a", "0.01", 0.95),
        ("b", "0.01", 0.85),
        ("c", "0.1", 0.99),
        ("d", "0.01", 0.97),
    ]:
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_param("lr", lr)
            mlflow.log_metric("acc", acc)
            mlflow.set_tag("group", "sweep" if name != "d" else "other")
        ids[name] = run.info.run_id
    client = MlflowClient()
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string="metrics.acc > 0.9 and params.lr = '0.01'",
        order_by=["metrics.acc DESC"],
    )
    assert [r.info.run_name for r in found] == ["d", "a"]
    assert [
        r.info.run_name
        for r in client.search_runs([experiment.experiment_id], order_by=["metrics.acc ASC"])
    ] == ["b", "a", "d", "c"]
    assert {
        r.info.run_name
        for r in client.search_runs(
            [experiment.experiment_id], "tags.group = 'sweep' and attributes.run_name LIKE '%'"
        )
    } == {"a", "b", "c"}
    assert [
        r.info.run_name
        for r in client.search_runs([experiment.experiment_id], "attributes.run_name ILIKE 'C'")
    ] == ["c"]
    assert [
        r.info.run_name
        for r in client.search_runs(
            [experiment.experiment_id], "attributes.status = 'FINISHED' and params.lr != '0.01'"
        )
    ] == ["c"]
    pages, token = [], None
    while True:
        page = client.search_runs(
            [experiment.experiment_id],
            order_by=["params.lr ASC", "metrics.acc DESC"],
            max_results=3,
            page_token=token,
        )
        pages.append([r.info.run_name for r in page])
        token = page.token
        if not token:
            break
    assert pages == [["d", "a", "b"], ["c"]]
    with pytest.raises(MlflowException) as bad:
        client.search_runs([experiment.experiment_id], "metrics.acc >")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    everything = mlflow.search_runs([experiment.experiment_id])  # pandas frame
    assert len(everything) == 4


def _current() -> str:
    from mlflow.tracking.fluent import _get_experiment_id

    return str(_get_experiment_id())


def test_experiments_create_get_search_and_errors(tracking: Labledger) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment("compat-experiments", tags={"owner": "ml"})
    got = client.get_experiment(experiment_id)
    assert got.name == "compat-experiments" and got.tags == {"owner": "ml"}
    assert client.get_experiment_by_name("compat-experiments").experiment_id == experiment_id
    assert client.get_experiment_by_name("no-such-experiment") is None
    names = [e.name for e in client.search_experiments(filter_string="name LIKE 'compat-%'")]
    assert names == ["compat-experiments"]
    with pytest.raises(MlflowException) as exists:
        client.create_experiment("compat-experiments")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as missing:
        client.get_experiment("987654")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.set_experiment_tag(experiment_id, "stage", "prod")
    assert client.get_experiment(experiment_id).tags == {"owner": "ml", "stage": "prod"}


def test_run_update_tags_and_errors_keep_mlflow_codes(tracking: Labledger) -> None:
    client = MlflowClient()
    experiment_id = _current()
    run = client.create_run(experiment_id, run_name="edit-me", tags={"keep": "1", "drop": "2"})
    run_id = run.info.run_id
    client.delete_tag(run_id, "drop")
    client.log_batch(
        run_id,
        metrics=[Metric("m", float(i), 1_700_000_000_000 + i, i) for i in range(3)],
        params=[Param("p", "x")],
        tags=[RunTag("mlflow.runName", "renamed")],
    )
    client.log_param(run_id, "p", "x")  # the same value again is fine
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "p", "y")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_tag:
        client.delete_tag(run_id, "never-set")
    assert no_tag.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.set_terminated(run_id, "KILLED")
    got = client.get_run(run_id)
    assert got.info.status == "KILLED" and got.info.run_name == "renamed"
    assert "drop" not in got.data.tags and got.data.tags["keep"] == "1"
    assert [m.timestamp for m in client.get_metric_history(run_id, "m")] == [
        1_700_000_000_000 + i for i in range(3)
    ]
    with pytest.raises(MlflowException) as no_run:
        client.get_run("doesnotexist")
    assert no_run.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def _post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/api/2.0/mlflow/{path}", json=body, timeout=30)


def test_log_batch_limits_and_unsupported_endpoints(tracking: Labledger) -> None:
    url = tracking.url
    run_id = MlflowClient().create_run(_current()).info.run_id
    metric = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    cases = [
        ({"run_id": run_id, "metrics": [metric] * 1001}, "at most 1000 metrics"),
        (
            {"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
            "at most 100 params",
        ),
        (
            {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
            "at most 100 tags",
        ),
        (
            {"run_id": run_id, "params": [{"key": "p", "value": "a"}, {"key": "p", "value": "b"}]},
            "Duplicate parameter keys",
        ),
        ({"run_id": run_id, "metrics": [{**metric, "value": "high"}]}, "valid double"),
        ({"run_id": run_id, "metrics": [{**metric, "key": "../up"}]}, "would resolve"),
        ({"run_id": run_id, "params": [{"key": "p", "value": "x" * 6001}]}, "6000"),
    ]
    for body, message in cases:
        answer = _post(url, "runs/log-batch", body)
        assert answer.status_code == 400, body
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert message in answer.json()["message"]
    assert MlflowClient().get_run(run_id).data.metrics == {}  # nothing of a bad batch landed
    missing = _post(url, "runs/log-batch", {"run_id": "nosuchrun", "metrics": [metric]})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    nan = _post(url, "runs/log-batch", {"run_id": run_id, "metrics": [{**metric, "value": "NaN"}]})
    assert nan.status_code == 200
    assert MlflowClient().get_metric_history(run_id, "m")[0].value != 0.0  # NaN back
    for method, path in [
        ("POST", "registered-models/create"),
        ("GET", "traces/abc"),
        ("POST", "not-a-thing"),
    ]:
        answer = httpx.request(method, f"{url}/api/2.0/mlflow/{path}", json={}, timeout=30)
        assert (answer.status_code, answer.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    with pytest.raises(MlflowException) as registry:
        MlflowClient().create_registered_model("a-model")
    assert registry.value.error_code == "ENDPOINT_NOT_FOUND"
    mirror = httpx.get(f"{url}/ajax-api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert mirror.json()["run"]["info"]["run_id"] == run_id


def test_metric_history_pages_and_bulk_interval(tracking: Labledger) -> None:
    client = MlflowClient()
    run_id = client.create_run(_current()).info.run_id
    client.log_batch(run_id, metrics=[Metric("x", i * 0.5, 1000 + i, i) for i in range(30)])
    url = f"{tracking.url}/api/2.0/mlflow/metrics/get-history"
    steps, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "x", "max_results": 12}
        answer = httpx.get(url, params={**params, **({"page_token": token} if token else {})})
        body = answer.json()
        steps.append([m["step"] for m in body["metrics"]])
        token = body.get("next_page_token")
        if not token:
            break
    assert [len(s) for s in steps] == [12, 12, 6] and [s for page in steps for s in page] == list(
        range(30)
    )
    bulk = httpx.get(
        f"{tracking.url}/api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": [run_id], "metric_key": "x", "max_results": 5},
    ).json()["metrics"]
    assert bulk[0]["step"] == 0 and bulk[-1]["step"] == 29 and len(bulk) == 5
    assert all(m["run_id"] == run_id for m in bulk)


def test_artifacts_go_through_the_proxy_into_labledger_blobs(
    tracking: Labledger, api: Any, tmp_path: Any
) -> None:
    import hashlib

    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes(range(256)) * 1000)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(weights))
        mlflow.log_artifact(str(weights), artifact_path="models/v1")
        mlflow.log_dict({"classes": ["cat", "dog"]}, "meta/labels.json")
        mlflow.log_text("hello", "notes.txt")
    run_id = run.info.run_id
    client = MlflowClient()
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("meta", True),
        ("models", True),
        ("notes.txt", False),
        ("weights.bin", False),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "models/v1")] == ["models/v1/weights.bin"]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl"))
    assert (Path(local) / "models/v1/weights.bin").read_bytes() == weights.read_bytes()
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/meta/labels.json") == {
        "classes": ["cat", "dog"]
    }
    version = api.store.artifacts.get_version(f"mlflow-{run_id}")
    digests = {e["path"]: e["digest"] for e in version.manifest}
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert digests["weights.bin"] == digests["models/v1/weights.bin"] == sha
    from labledger.artifacts.blobstore import open_blob_store

    assert open_blob_store(str(tracking.blobs)).exists(sha)
    assert (
        api.store.get_captures(run_id)["logged_artifacts"][f"mlflow-{run_id}"]["digest"]
        == version.digest
    )


def test_deleted_runs_leave_default_searches_and_come_back(tracking: Labledger) -> None:
    from mlflow.entities import ViewType

    client = MlflowClient()
    experiment_id = _current()
    keep = client.create_run(experiment_id).info.run_id
    gone = client.create_run(experiment_id).info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [keep]
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [gone]
    with pytest.raises(MlflowException) as refused:
        client.log_metric(gone, "m", 1.0)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(gone)
    assert len(client.search_runs([experiment_id], run_view_type=ViewType.ALL)) == 2
    assert len(client.search_runs([experiment_id])) == 2
