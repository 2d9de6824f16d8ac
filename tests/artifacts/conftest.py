"""Artifact test fixtures: a private store and blob folder per test, run rows made through the
Store, and a real S3-protocol server on loopback.

S3 tests talk HTTP to moto's server mode (``moto.server.ThreadedMotoServer``) bound to
127.0.0.1 on a free port chosen by the OS, through the same boto3 client code production uses;
no in-process patching of botocore. One server serves the session; each test gets its own
bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labledger.config import Settings
from labledger.sdk.artifacts import Artifacts
from labledger.store import open_store
from labledger.store.base import Store
from tests.artifacts.helpers import create_run


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings.uri)
    yield opened
    opened.close()


@pytest.fixture
def service(store: Store, settings: Settings) -> Iterator[Artifacts]:
    artifacts = Artifacts(store, settings)
    yield artifacts
    artifacts.close()


@pytest.fixture
def new_run(store: Store) -> Callable[[], str]:
    return lambda: create_run(store)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3-protocol HTTP server on 127.0.0.1 (moto server mode, random free port)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and no developer AWS config leaking into the test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_env: None) -> str:
    """A fresh, empty bucket on the loopback server."""
    from labledger.artifacts.s3 import make_client

    name = f"bucket-{uuid.uuid4().hex[:12]}"
    make_client(moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_client(moto_endpoint: str, aws_env: None) -> object:
    from labledger.artifacts.s3 import make_client

    return make_client(moto_endpoint)
