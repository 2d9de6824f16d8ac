"""Users, projects and members over ``/api/admin``: who may do what."""

from __future__ import annotations

from tests.server.team import Team, team_fixture  # noqa: F401  (fixture)


def test_only_server_admins_manage_users(team: Team) -> None:
    assert team.get("alice", "/api/admin/users").status_code == 403
    users = team.get("root", "/api/admin/users").json()
    assert [u["name"] for u in users] == ["alice", "bob", "carol", "root"]
    made = team.request(
        "POST", "root", "/api/admin/users", json={"name": "dave", "token_name": "t"}
    )
    assert made.status_code == 201
    dave = {"Authorization": f"Bearer {made.json()['token']}"}
    assert team.client.get("/api/auth/whoami", headers=dave).json()["projects"] == {}
    again = team.request("POST", "root", "/api/admin/users", json={"name": "dave"})
    assert again.status_code == 400 and "already exists" in again.text
    bad = team.request("POST", "root", "/api/admin/users", json={"name": "no spaces"})
    assert bad.status_code == 400


def test_password_change_and_disable(team: Team) -> None:
    change = {"password": "a-new-long-password"}
    assert team.request("PATCH", "root", "/api/admin/users/carol", json=change).status_code == 200
    login = {"user": "carol", "password": "a-new-long-password"}
    assert team.client.post("/api/auth/login", json=login).status_code == 200
    team.client.cookies.clear()
    off = team.request("PATCH", "root", "/api/admin/users/carol", json={"disabled": True})
    assert off.json()["disabled"] is True
    assert team.client.post("/api/auth/login", json=login).status_code == 401
    self_demote = team.request("PATCH", "root", "/api/admin/users/root", json={"admin": False})
    assert self_demote.status_code == 403
    missing = team.request("PATCH", "root", "/api/admin/users/nobody", json={"admin": True})
    assert missing.status_code == 404


def test_projects_are_created_by_server_admins(team: Team) -> None:
    assert (
        team.request("POST", "alice", "/api/admin/projects", json={"name": "x"}).status_code == 403
    )
    created = team.request("POST", "root", "/api/admin/projects", json={"name": "nlp"})
    assert created.status_code == 201 and created.json()["created_by"] == "root"
    names = [p["name"] for p in team.get("root", "/api/admin/projects").json()]
    assert names == ["audio", "nlp", "vision"]
    unknown = team.request(
        "PUT", "root", "/api/admin/projects/ghost/members/alice", json={"role": "viewer"}
    )
    assert unknown.status_code == 404 and "ghost" in unknown.text


def test_project_admins_manage_their_members_only(team: Team) -> None:
    promote = team.request(
        "PUT", "root", "/api/admin/projects/vision/members/alice", json={"role": "admin"}
    )
    assert promote.json()["members"] == {"alice": "admin", "bob": "viewer"}
    grant = team.request(
        "PUT", "alice", "/api/admin/projects/vision/members/carol", json={"role": "writer"}
    )
    assert grant.status_code == 200
    assert team.get("carol", "/api/auth/whoami").json()["projects"] == {
        "audio": "writer",
        "vision": "writer",
    }
    assert [p["name"] for p in team.get("alice", "/api/admin/projects").json()] == ["vision"]
    # audio is invisible to alice: 404, not 403
    other = team.request(
        "PUT", "alice", "/api/admin/projects/audio/members/bob", json={"role": "viewer"}
    )
    assert other.status_code == 404
    bad_role = team.request(
        "PUT", "alice", "/api/admin/projects/vision/members/bob", json={"role": "owner"}
    )
    assert bad_role.status_code == 400
    removed = team.request("DELETE", "alice", "/api/admin/projects/vision/members/bob")
    assert removed.json()["members"] == {"alice": "admin", "carol": "writer"}
    assert team.get("bob", "/api/auth/whoami").json()["projects"] == {}
