"""Team server test helpers: an in-process app with token auth over a real store, users with
roles, a real ``labledger server`` process on a free loopback port, and moto's S3 server.

Imported by the test_auth*/test_admin*/test_blobs*/test_server_cli* modules (fixtures are
re-exported from here so the shared conftest stays the UI-API's).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from labledger.store import auth_store
from labledger.store.auth import AuthStore
from labledger.store.base import Store

SRC = Path(__file__).resolve().parents[2] / "src"
CLI = "from labledger.cli.main import main; main()"


@dataclass
class Team:
    """An app with token auth, and a token per user: ``root`` (server admin), ``alice``
    (writer in vision), ``bob`` (viewer in vision), ``carol`` (writer in audio)."""

    client: TestClient
    store: Store
    auth: AuthStore
    tokens: dict[str, str] = field(default_factory=dict)

    def as_user(self, user: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}

    def get(self, user: str | None, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.as_user(user), **kwargs)

    def request(self, method: str, user: str | None, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.as_user(user), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def add_team(auth: AuthStore) -> dict[str, str]:
    auth.add_user("root", admin=True)
    auth.add_user("alice", password="alice-password")
    auth.add_user("bob", password="bob-password")
    auth.add_user("carol")
    auth.add_project("vision")
    auth.add_project("audio")
    auth.grant("vision", "alice", "writer")
    auth.grant("vision", "bob", "viewer")
    auth.grant("audio", "carol", "writer")
    return {name: auth.create_token(name, "test")[0] for name in ("root", "alice", "bob", "carol")}


def team_app(store: Store, blobs: Any = None) -> TestClient:
    from labledger.config import load_settings
    from labledger.server.app import create_app
    from labledger.server.auth import TokenAuthenticator

    settings = load_settings(env={"LABLEDGER_URI": store.uri}, cwd=Path.cwd())
    app = create_app(
        store, blobs=blobs, settings=settings, authenticator=TokenAuthenticator(auth_store(store))
    )
    return TestClient(app)


@pytest.fixture(name="team")
def team_fixture(store: Store) -> Iterator[Team]:
    auth = auth_store(store)
    tokens = add_team(auth)
    with team_app(store) as client:
        yield Team(client, store, auth, tokens)


# --- real server processes ----------------------------------------------------------------
def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env.update(
        PYTHONPATH=f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}",
        LABLEDGER_CREDENTIALS=str(tmp_path / "credentials.toml"),
        LABLEDGER_DIR=str(tmp_path / "client-store"),
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
    )
    env.update(extra)
    return env


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> CliResult:
    """A ``labledger`` command, in process (the server it talks to is a real process)."""
    from click.testing import CliRunner

    from labledger.cli.main import cli

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args, env=env, input=stdin)
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> ServerProcess:
    """``labledger server ARGS --port 0`` on 127.0.0.1; returns once /api/health answers."""
    log = cwd / f"server-{uuid.uuid4().hex[:6]}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "server", "--host", "127.0.0.1", "--port", "0", *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()}")
        if url is None:
            found = re.search(r"listening on (http://[0-9.]+:\d+)", log.read_text())
            url = found.group(1) if found else None
        if url is not None:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return ServerProcess(process, url, log)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not start in {timeout}s:\n{log.read_text()}")


@pytest.fixture(name="servers")
def servers_fixture() -> Iterator[list[ServerProcess]]:
    """Started servers are stopped (SIGTERM, by their own pid) when the test ends."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


# --- S3 on loopback (moto server mode) -------------------------------------------------------
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(name="moto_url", scope="session")
def moto_url_fixture() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(name="bucket")
def bucket_fixture(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    from labledger.artifacts.s3 import make_client

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    make_client(moto_url).create_bucket(Bucket=name)
    return name
