"""``ll.init(uri=...)`` picks the store for a run without ``LABLEDGER_URI``: a real team
server process on loopback (token auth, artifact blobs), or another SQLite file; it wins over
the environment and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

import labledger as ll
from labledger.config import load_settings
from labledger.errors import LabledgerError
from labledger.store import auth_store, open_store
from tests.server.team import ServerProcess, add_team, cli_env, servers_fixture, start_server  # noqa: F401


def test_init_uri_sends_the_run_and_its_artifact_to_a_team_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: list[ServerProcess]
) -> None:
    server_store_uri = f"sqlite:///{tmp_path / 'server' / 'labledger.db'}"
    admin = open_store(server_store_uri)
    tokens = add_team(auth_store(admin))
    admin.close()
    server = start_server(
        ["--db", server_store_uri, "--artifacts", str(tmp_path / "blobs")],
        cli_env(tmp_path),
        tmp_path,
    )
    servers.append(server)
    monkeypatch.setenv("LABLEDGER_TOKEN", tokens["alice"])  # a writer in project vision
    local_uri = f"sqlite:///{tmp_path / 'local' / 'labledger.db'}"
    monkeypatch.setenv("LABLEDGER_URI", local_uri)  # the explicit uri= must win over this
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01weights")

    with ll.init(project="vision", uri=server.url, config={"lr": 0.1}, capture=False) as run:
        assert run.settings.uri == server.url
        assert run.settings.artifact_uri == server.url  # the server keeps the artifacts too
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.log_artifact(weights, name="model", type="model")
        run_id = run.id

    server_store = open_store(server_store_uri)
    try:
        record = server_store.get_run(run_id)
        assert record.project == "vision"
        assert record.config == {"lr": 0.1}
        assert record.metrics["loss"].count == 5
        assert server_store.read_metric(run_id, "loss").steps.tolist() == [0, 1, 2, 3, 4]
        versions = server_store.artifacts.list_versions("model")
        assert [v.run_id for v in versions] == [run_id]
    finally:
        server_store.close()
    assert not (tmp_path / "local" / "labledger.db").exists()  # nothing went to LABLEDGER_URI


def test_init_uri_selects_another_sqlite_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "labledger.db"
    with ll.init(project="p", uri=f"sqlite:///{other}", capture=False) as run:
        run.log({"acc": 0.5})
        run_id = run.id
    store = open_store(f"sqlite:///{other}")
    try:
        assert store.get_run(run_id).metrics["acc"].last == 0.5
    finally:
        store.close()


def test_load_settings_uri_beats_environment_and_config_file(tmp_path: Path) -> None:
    (tmp_path / "labledger.toml").write_text('uri = "sqlite:///from-file.db"\n')
    env = {"LABLEDGER_URI": "sqlite:///from-env.db"}
    assert load_settings(env=env, cwd=tmp_path).uri == "sqlite:///from-env.db"
    chosen = load_settings(env=env, cwd=tmp_path, uri="http://127.0.0.1:9")
    assert chosen.uri == "http://127.0.0.1:9"
    assert chosen.artifact_uri == "http://127.0.0.1:9"


def test_init_refuses_settings_and_a_different_uri(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    with pytest.raises(LabledgerError, match="either settings= or uri="):
        ll.init(project="p", settings=settings, uri="http://127.0.0.1:9", capture=False)
