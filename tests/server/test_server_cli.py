"""``labledger server`` and the account commands against real server processes on loopback:
bootstrap of the first admin, login, tokens, users, projects, grants; refusals (--no-auth off
loopback, a newer schema); the heartbeat sweeper; two processes on one PostgreSQL database."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.store import open_store
from labledger.store.base import RunBatch
from labledger.store.http import HttpStore
from tests.server.helpers import columns
from tests.server.team import ServerProcess, cli_env, run_cli, servers_fixture, start_server  # noqa: F401


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    db = f"sqlite:///{tmp_path / 'db' / 'labledger.db'}"
    result = run_cli(["server", "--db", db, "--host", "0.0.0.0", "--no-auth"], env, tmp_path)
    assert result.returncode == 1
    assert "--no-auth is allowed only on a loopback host" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "db").exists()  # refused before touching anything


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db' / 'labledger.db'}"
    env = cli_env(tmp_path)
    upgraded = run_cli(["db", "upgrade", "--db", db], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "schema revision" in upgraded.stdout
    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    result = run_cli(["server", "--db", db, "--port", "0"], env, tmp_path)
    assert result.returncode == 1
    assert "newer than this labledger knows" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_bootstrap_login_tokens_users_projects(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    db = f"sqlite:///{tmp_path / 'server' / 'labledger.db'}"
    env = cli_env(tmp_path)
    first = run_cli(["user", "add", "root", "--admin", "--db", db], env, tmp_path)
    assert first.returncode == 0, first.stderr
    root_token = first.stdout.strip()
    assert root_token.startswith("ll_") and "shown once" in first.stderr

    server = start_server(["--db", db], env, tmp_path)
    servers.append(server)
    url = server.url

    login = run_cli(["login", url, "--token", root_token], env, tmp_path)
    assert login.returncode == 0, login.stderr
    credentials = tmp_path / "credentials.toml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert root_token in credentials.read_text()

    as_root = {**env, "LABLEDGER_URI": url}
    assert "root (server admin)" in run_cli(["whoami"], as_root, tmp_path).stdout
    added = run_cli(
        ["user", "add", "alice", "--password-stdin"], as_root, tmp_path, "a-long-password\n"
    )
    assert added.returncode == 0, added.stderr
    alice_first = added.stdout.strip()
    assert run_cli(["project", "add", "vision"], as_root, tmp_path).returncode == 0
    granted = run_cli(["project", "grant", "vision", "alice", "viewer"], as_root, tmp_path)
    assert granted.returncode == 0, granted.stderr
    assert "alice:viewer" in run_cli(["project", "list"], as_root, tmp_path).stdout

    # alice logs in with her password from another "machine" (her own credentials file)
    alice_env = {**env, "LABLEDGER_CREDENTIALS": str(tmp_path / "alice.toml")}
    login = run_cli(
        ["login", url, "--user", "alice", "--password-stdin"],
        alice_env,
        tmp_path,
        "a-long-password\n",
    )
    assert login.returncode == 0, login.stderr
    alice_env["LABLEDGER_URI"] = url
    me = run_cli(["whoami"], alice_env, tmp_path)
    assert "alice (user)" in me.stdout and "vision: viewer" in me.stdout
    refused = run_cli(["user", "add", "mallory"], alice_env, tmp_path)
    assert refused.returncode == 1
    assert "403" in refused.stderr and "not a server admin" in refused.stderr

    created = run_cli(["token", "create", "ci", "--expires-days", "7"], alice_env, tmp_path)
    ci_token = created.stdout.strip()
    assert httpx.get(f"{url}/api/auth/whoami", headers=bearer(ci_token)).status_code == 200
    listing = run_cli(["token", "list"], alice_env, tmp_path).stdout
    assert "ci" in listing and "active" in listing and ci_token not in listing
    revoke = run_cli(["token", "revoke", ci_token.split("_")[1]], alice_env, tmp_path)
    assert revoke.returncode == 0, revoke.stderr
    assert httpx.get(f"{url}/api/auth/whoami", headers=bearer(ci_token)).status_code == 401
    assert httpx.get(f"{url}/api/auth/whoami", headers=bearer(alice_first)).status_code == 200

    logout = run_cli(["logout", url], alice_env, tmp_path)
    assert logout.returncode == 0
    assert "servers" not in (tmp_path / "alice.toml").read_text()


@pytest.mark.slow
def test_heartbeat_sweeper_marks_silent_runs_crashed(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    db = f"sqlite:///{tmp_path / 'server' / 'labledger.db'}"
    store = open_store(db)
    now = time.time()
    silent = RunRecord(
        new_run_id(), "p", "silent", RunStatus.RUNNING, now - 60, heartbeat_at=now - 30
    )
    alive = RunRecord(new_run_id(), "p", "alive", RunStatus.RUNNING, now, heartbeat_at=now + 600)
    for run in (silent, alive):
        store.create_run(run)
    store.write_metrics(silent.run_id, {"loss": columns([3.0, 2.0, 1.0])})
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\ndb = "{db}"\ncrash_after = 5\nsweep_interval = 0.2\n')
    servers.append(start_server(["--config", str(config)], cli_env(tmp_path), tmp_path))
    deadline = time.monotonic() + 30
    while store.get_run(silent.run_id).status is RunStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    crashed = store.get_run(silent.run_id)
    assert crashed.status is RunStatus.CRASHED
    assert crashed.ended_at == pytest.approx(now - 30)
    assert list(store.read_metric(silent.run_id, "loss").values) == [3.0, 2.0, 1.0]
    assert store.get_run(alive.run_id).status is RunStatus.RUNNING
    store.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_server_processes_share_one_postgres(
    postgres_uri: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    env = cli_env(tmp_path)
    first = run_cli(["user", "add", "root", "--admin", "--db", postgres_uri], env, tmp_path)
    assert first.returncode == 0, first.stderr
    root = bearer(first.stdout.strip())
    args = ["--db", postgres_uri, "--artifacts", str(tmp_path / "blobs")]
    a = start_server([*args, "--workers", "2"], env, tmp_path)
    servers.append(a)
    b = start_server(args, env, tmp_path)
    servers.append(b)

    made = httpx.post(
        f"{a.url}/api/admin/users", json={"name": "dana", "token_name": "t"}, headers=root
    )
    assert made.status_code == 201, made.text
    dana = bearer(made.json()["token"])
    assert httpx.get(f"{b.url}/api/auth/whoami", headers=dana).json()["user"] == "dana"
    assert (
        httpx.post(f"{b.url}/api/admin/projects", json={"name": "nlp"}, headers=root).status_code
        == 201
    )
    grant = httpx.put(
        f"{a.url}/api/admin/projects/nlp/members/dana", json={"role": "writer"}, headers=root
    )
    assert grant.status_code == 200
    assert httpx.get(f"{b.url}/api/auth/whoami", headers=dana).json()["projects"] == {
        "nlp": "writer"
    }

    # a client writes through one server, another reads the points back through the other
    token = made.json()["token"]
    writer, reader = HttpStore(a.url, token=token), HttpStore(b.url, token=token)
    run = RunRecord(new_run_id(), "nlp", "bert", RunStatus.RUNNING, time.time())
    writer.create_run(run)
    writer.write_batch(run.run_id, RunBatch(metrics={"loss": columns([0.9, 0.5, 0.2])}))
    assert list(reader.read_metric(run.run_id, "loss").values) == [0.9, 0.5, 0.2]

    # a browser's live view on server b sees a point written through server a
    live = f"{b.url}/api/live/runs/{run.run_id}"
    with httpx.stream("GET", live, params={"interval": 0.1}, headers=dana, timeout=20) as events:
        lines = events.iter_lines()
        writer.write_batch(run.run_id, RunBatch(metrics={"loss": columns([0.1], start=3)}))
        deadline = time.monotonic() + 15
        seen = ""
        while "event: points" not in seen and time.monotonic() < deadline:
            seen += next(lines) + "\n"
    assert "event: points" in seen and "loss" in seen
    writer.close()
    reader.close()

    # many requests to the two-worker server: every one answered, none a 500
    with httpx.Client(base_url=a.url, headers=dana) as client:
        codes = {client.get("/api/auth/whoami").status_code for _ in range(40)}
    assert codes == {200}

    token_id = made.json()["token"].split("_")[1]
    assert httpx.delete(f"{b.url}/api/auth/tokens/{token_id}", headers=dana).status_code == 200
    assert httpx.get(f"{a.url}/api/auth/whoami", headers=dana).status_code == 401
