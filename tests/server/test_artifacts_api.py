"""Artifact routes: a run's artifacts, the listing, lineage, and safe downloads."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import labledger as ll
from labledger.config import Settings


def _log_model_and_consumer(tmp_path: Path, settings: Settings) -> tuple[str, str]:
    page = tmp_path / "evil.html"
    page.write_text("<script>alert(document.cookie)</script>")
    with ll.init(project="p", name="producer", settings=settings, capture=False) as producer:
        producer.log_artifact(page, name="report", type="report")
    with ll.init(project="p", name="consumer", settings=settings, capture=False) as consumer:
        consumer.use_artifact("report:latest")
    return producer.id, consumer.id


def test_artifacts_lineage_and_download(
    client: TestClient, tmp_path: Path, server_settings: Settings
) -> None:
    producer, consumer = _log_model_and_consumer(tmp_path, server_settings)
    produced = client.get(f"/api/runs/{producer}/artifacts").json()
    assert [v["ref"] for v in produced["produced"]] == ["report:v0"] and produced["used"] == []
    assert [v["ref"] for v in client.get(f"/api/runs/{consumer}/artifacts").json()["used"]] == [
        "report:v0"
    ]
    listing = client.get("/api/artifacts", params={"project": "p"}).json()
    assert [(v["ref"], v["aliases"], v["project"]) for v in listing] == [
        ("report:v0", ["latest"], "p")
    ]
    assert client.get("/api/artifacts", params={"project": "nope"}).json() == []

    graph = client.get("/api/artifacts/report/lineage").json()
    assert graph["root"] == "artifact:report:v0"
    assert {(e["from"], e["to"], e["kind"]) for e in graph["edges"]} == {
        (f"run:{producer}", "artifact:report:v0", "produced"),
        ("artifact:report:v0", f"run:{consumer}", "used"),
    }
    assert client.get("/api/artifacts/nothing/lineage").status_code == 404

    path = listing[0]["manifest"][0]["path"]
    response = client.get(f"/api/artifacts/report/v0/files/{path}")
    assert response.status_code == 200
    assert response.content == b"<script>alert(document.cookie)</script>"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["content-type"] == "application/octet-stream"
    for missing in ("report/v0/files/other.txt", "report/v7/files/x", "nope/v0/files/x"):
        assert client.get(f"/api/artifacts/{missing}").status_code == 404
