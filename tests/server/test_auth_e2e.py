"""Auth end to end through a real server process on PostgreSQL, with the real clients
(``HttpStore``, the artifact service over ``HttpBlobStore``): a writer logs a run and an
artifact, a viewer reads but cannot write (403), another project's member sees nothing (404),
a wrong token is 401."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from labledger.config import load_settings
from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.errors import ArtifactError, Forbidden, NotFound, Unauthorized
from labledger.sdk.artifacts import Artifacts
from labledger.store import auth_store, open_store
from labledger.store.http import HttpStore
from tests.server.team import ServerProcess, add_team, cli_env, servers_fixture, start_server  # noqa: F401


def record(project: str, name: str) -> RunRecord:
    return RunRecord(new_run_id(), project, name, RunStatus.RUNNING, time.time())


@pytest.mark.slow
@pytest.mark.postgres
def test_roles_and_isolation_through_the_real_clients(
    postgres_uri: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    admin_store = open_store(postgres_uri)
    tokens = add_team(auth_store(admin_store))
    admin_store.close()
    server = start_server(
        ["--db", postgres_uri, "--artifacts", str(tmp_path / "blobs")], cli_env(tmp_path), tmp_path
    )
    servers.append(server)
    url = server.url

    alice = HttpStore(url, token=tokens["alice"])
    run = record("vision", "cat-detector")
    alice.create_run(run)
    settings = load_settings(
        env={"LABLEDGER_URI": url, "LABLEDGER_TOKEN": tokens["alice"]}, cwd=tmp_path
    )
    assert settings.artifact_uri == url
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01" * 50_000)
    service = Artifacts(alice, settings)
    version = service.log(run.run_id, weights, name="cat-model", type="model")
    service.close()

    bob = HttpStore(url, token=tokens["bob"])
    assert bob.get_run(run.run_id).name == "cat-detector"
    with pytest.raises(Forbidden):
        bob.create_run(record("vision", "not-allowed"))
    bob_settings = settings.with_overrides(token=tokens["bob"])
    got = Artifacts(bob, bob_settings).use("cat-model", dest=tmp_path / "bob")
    assert got.read_bytes() == weights.read_bytes()

    carol = HttpStore(url, token=tokens["carol"])
    with pytest.raises(NotFound):
        carol.get_run(run.run_id)
    assert carol.search_runs() == []
    assert "vision" not in carol.list_projects()
    with pytest.raises(NotFound):
        carol.create_run(record("vision", "intruder"))
    blob = httpx.get(
        f"{url}/api/blobs/{version.digest}",
        headers={"Authorization": f"Bearer {tokens['carol']}"},
    )
    assert blob.status_code == 404
    with pytest.raises((ArtifactError, NotFound)):
        Artifacts(carol, settings.with_overrides(token=tokens["carol"])).use(
            "cat-model", dest=tmp_path / "carol"
        )

    # a project that does not exist: a writer is refused with its name, a server admin creates it
    with pytest.raises(NotFound, match="brand-new"):
        alice.create_run(record("brand-new", "x"))
    HttpStore(url, token=tokens["root"]).create_run(record("brand-new", "x"))

    with pytest.raises(Unauthorized):
        HttpStore(url, token=tokens["alice"] + "x").get_run(run.run_id)
    for store in (alice, bob, carol):
        store.close()
