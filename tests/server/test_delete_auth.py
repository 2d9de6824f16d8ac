"""Deleting over the HTTP API is authorised per project: a writer or admin of the run's
project deletes its runs and artifact versions, a viewer gets 403, another project's member
404 (names do not leak), a version no run owns is for a server admin only."""

from __future__ import annotations

import hashlib

from labledger.store.base import ArtifactVersion, Store
from tests.server.helpers import make_run
from tests.server.team import Team, team_fixture  # noqa: F401  (fixture)


def _version(store: Store, run_id: str | None, name: str) -> ArtifactVersion:
    digest = hashlib.sha256(name.encode()).hexdigest()
    entry = {"path": "w.bin", "size": 1, "digest": digest}
    return store.artifacts.add_version(
        ArtifactVersion(name, 0, "model", digest, 1, [entry], run_id=run_id)
    )


def test_run_delete_needs_the_writer_role_in_its_project(team: Team) -> None:
    run = make_run(team.store, "vision")
    _version(team.store, run.run_id, "cat-model")
    path = f"/api/store/runs/{run.run_id}"
    assert team.request("DELETE", None, path).status_code == 401
    assert team.request("DELETE", "carol", path).status_code == 404  # audio only
    refused = team.request("DELETE", "bob", path)  # a viewer in vision
    assert refused.status_code == 403 and "writer" in refused.text
    assert team.store.get_run(run.run_id).run_id == run.run_id
    assert team.request("DELETE", "alice", path).status_code == 200
    assert team.store.search_runs(project="vision") == []
    assert team.store.artifacts.list_versions("cat-model") == []
    assert team.request("DELETE", "alice", path).status_code == 404


def test_version_delete_needs_the_writer_role_or_a_server_admin(team: Team) -> None:
    run = make_run(team.store, "vision")
    _version(team.store, run.run_id, "owned")
    _version(team.store, None, "unowned")
    owned = {"name": "owned", "version": 0}
    assert (
        team.request("DELETE", "carol", "/api/store/artifacts/versions", params=owned).status_code
        == 404
    )
    assert (
        team.request("DELETE", "bob", "/api/store/artifacts/versions", params=owned).status_code
        == 403
    )
    assert (
        team.request("DELETE", "alice", "/api/store/artifacts/versions", params=owned).status_code
        == 200
    )
    unowned = {"name": "unowned", "version": 0}
    assert (
        team.request("DELETE", "alice", "/api/store/artifacts/versions", params=unowned).status_code
        == 403
    )
    assert (
        team.request("DELETE", "root", "/api/store/artifacts/versions", params=unowned).status_code
        == 200
    )
    assert team.store.artifacts.list_versions() == []
