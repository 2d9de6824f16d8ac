"""Token auth on the HTTP API: 401 for missing, wrong, revoked or expired tokens, 404 (never
403) for projects the caller cannot see, 403 for a viewer writing; tokens stored hashed; the
UI login cookie."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from labledger.entities import RunStatus
from labledger.store.base import ArtifactVersion, Store
from tests.server.helpers import make_run
from tests.server.team import Team, team_fixture  # noqa: F401  (fixture)

DIGEST = hashlib.sha256(b"weights").hexdigest()


def test_health_needs_no_token(team: Team) -> None:
    assert team.get(None, "/api/health").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer ",
        "Basic cm9vdDpyb290",
        "Bearer ll_000000000000_nope",
        "Bearer not-a-token",
    ],
)
def test_missing_or_wrong_token_is_401(team: Team, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = team.client.get("/api/projects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_secret_of_a_real_token_is_401(team: Team) -> None:
    token = team.tokens["alice"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = team.client.get("/api/projects", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_revoked_token_is_401_at_once(team: Team) -> None:
    assert team.get("alice", "/api/auth/whoami").status_code == 200
    token_id = team.tokens["alice"].split("_")[1]
    assert team.request("DELETE", "alice", f"/api/auth/tokens/{token_id}").status_code == 200
    assert team.get("alice", "/api/auth/whoami").status_code == 401


def test_expired_token_is_401(team: Team) -> None:
    plain, _ = team.auth.create_token("alice", "short", expires_at=time.time() - 1)
    response = team.client.get("/api/auth/whoami", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    later, _ = team.auth.create_token("alice", "later", expires_at=time.time() + 3600)
    ok = team.client.get("/api/auth/whoami", headers={"Authorization": f"Bearer {later}"})
    assert ok.json()["user"] == "alice"


def test_disabled_user_is_401(team: Team) -> None:
    team.auth.update_user("alice", disabled=True)
    assert team.get("alice", "/api/auth/whoami").status_code == 401


def test_whoami_lists_roles(team: Team) -> None:
    assert team.get("alice", "/api/auth/whoami").json() == {
        "user": "alice",
        "admin": False,
        "projects": {"vision": "writer"},
    }
    assert team.get("root", "/api/auth/whoami").json()["admin"] is True


def test_other_projects_are_invisible_404_not_403(team: Team) -> None:
    seen = make_run(team.store, "vision", name="cat-detector")
    hidden = make_run(team.store, "audio", name="speech")
    assert [p["name"] for p in team.get("bob", "/api/projects").json()] == ["vision"]
    assert team.get("bob", f"/api/runs/{seen.run_id}").status_code == 200
    response = team.get("bob", f"/api/runs/{hidden.run_id}")
    assert response.status_code == 404
    listing = team.get("bob", "/api/runs", params={"project": "audio"})
    assert listing.status_code == 404
    assert team.get("root", f"/api/runs/{hidden.run_id}").status_code == 200


def test_listing_every_project_shows_only_visible_runs(team: Team) -> None:
    make_run(team.store, "vision")
    make_run(team.store, "audio")
    everything = team.get("bob", "/api/runs").json()
    assert {row["project"] for row in everything["rows"]} == {"vision"}


def test_live_streams_and_artifacts_of_other_projects_are_404(team: Team) -> None:
    run = make_run(team.store, "vision", status=RunStatus.RUNNING)
    entry = {"path": "model.bin", "digest": DIGEST, "size": 7, "kind": "file"}
    version = ArtifactVersion(
        name="cat-model",
        version=0,
        type="model",
        digest=DIGEST,
        size=7,
        manifest=[entry],
        run_id=run.run_id,
    )
    team.store.artifacts.add_version(version)
    assert team.get("carol", f"/api/live/runs/{run.run_id}").status_code == 404
    filtered = team.get("carol", "/api/artifacts", params={"project": "vision"})
    assert "cat-model" not in filtered.text  # an empty listing, as for a project that is not
    assert "cat-model" not in team.get("carol", "/api/artifacts").text
    assert team.get("carol", "/api/artifacts/cat-model/lineage").status_code == 404
    assert team.get("carol", "/api/artifacts/cat-model/v0/files/model.bin").status_code == 404
    assert team.get("carol", f"/api/blobs/{DIGEST}").status_code == 404
    assert team.get("carol", f"/api/runs/{run.run_id}/artifacts").status_code == 404
    assert "cat-model" in team.get("bob", "/api/artifacts").text
    assert team.get("bob", "/api/artifacts/cat-model/lineage").status_code == 200


def test_viewer_cannot_write_403_outsider_404(team: Team) -> None:
    headers = {"X-Labledger-Project": "vision"}
    as_viewer = team.request(
        "PUT", "bob", f"/api/blobs/{DIGEST}", content=b"weights", headers=headers
    )
    assert as_viewer.status_code == 403
    as_outsider = team.request(
        "PUT", "carol", f"/api/blobs/{DIGEST}", content=b"weights", headers=headers
    )
    assert as_outsider.status_code == 404
    grant = team.request(
        "PUT", "bob", "/api/admin/projects/vision/members/carol", json={"role": "viewer"}
    )
    assert grant.status_code == 403


def test_session_cookie_login_and_logout(team: Team) -> None:
    wrong = team.client.post("/api/auth/login", json={"user": "alice", "password": "nope"})
    assert wrong.status_code == 401
    response = team.client.post(
        "/api/auth/login", json={"user": "alice", "password": "alice-password"}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "labledger_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert team.client.get("/api/auth/whoami").json()["user"] == "alice"
    assert team.client.post("/api/auth/logout").status_code == 200
    team.client.cookies.clear()
    stolen = cookie.split(";", 1)[0].split("=", 1)[1]
    again = team.client.get("/api/auth/whoami", cookies={"labledger_session": stolen})
    assert again.status_code == 401


def test_login_can_issue_an_api_token(team: Team) -> None:
    body = {"user": "bob", "password": "bob-password", "token_name": "laptop"}
    issued = team.client.post("/api/auth/login", json=body).json()
    assert "labledger_session" not in team.client.cookies
    me = team.client.get("/api/auth/whoami", headers={"Authorization": f"Bearer {issued['token']}"})
    assert me.json()["user"] == "bob"


def test_token_routes_create_list_revoke_own_only(team: Team) -> None:
    created = team.request(
        "POST", "alice", "/api/auth/tokens", json={"name": "ci", "expires_in_days": 1}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("ll_") and body["expires_at"] > time.time()
    names = [t["name"] for t in team.get("alice", "/api/auth/tokens").json()]
    assert names == ["test", "ci"]
    assert all("token" not in t for t in team.get("alice", "/api/auth/tokens").json())
    # alice cannot revoke bob's token; a server admin can
    bob_id = team.tokens["bob"].split("_")[1]
    assert team.request("DELETE", "alice", f"/api/auth/tokens/{bob_id}").status_code == 404
    assert team.request("DELETE", "root", f"/api/auth/tokens/{bob_id}").status_code == 200
    assert team.get("bob", "/api/auth/whoami").status_code == 401
    everyone = team.get("root", "/api/auth/tokens", params={"all": "true"}).json()
    assert {t["user"] for t in everyone} == {"root", "alice", "bob", "carol"}


def test_last_used_is_recorded(team: Team) -> None:
    team.get("carol", "/api/auth/whoami")
    (info,) = team.auth.list_tokens("carol")
    assert info.last_used_at is not None and abs(info.last_used_at - time.time()) < 60


def _database_dump(store: Store, tmp_path: Path) -> str:
    if store.uri.startswith("sqlite:///"):
        folder = Path(store.uri.removeprefix("sqlite:///")).parent
        return "".join(p.read_bytes().decode("latin-1") for p in folder.glob("labledger.db*"))
    engine = create_engine(store.uri.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_tokens")).all()
        users = conn.execute(text("SELECT * FROM users")).all()
    engine.dispose()
    return repr(rows) + repr(users)


def test_tokens_and_passwords_are_stored_hashed(team: Team, tmp_path: Path) -> None:
    team.client.post("/api/auth/login", json={"user": "alice", "password": "alice-password"})
    dump = _database_dump(team.store, tmp_path)
    for token in team.tokens.values():
        secret = token.split("_", 2)[2]
        assert token not in dump
        assert secret not in dump
    assert "alice-password" not in dump
    assert "scrypt$" in dump
