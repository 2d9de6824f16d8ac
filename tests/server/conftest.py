"""Server tests: the app over a real store (SQLite and PostgreSQL), driven in process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labledger.config import Settings, load_settings
from labledger.store import open_store
from labledger.store.base import Store


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    opened = open_store(store_uri)
    yield opened
    opened.close()


@pytest.fixture
def server_settings(store_uri: str, tmp_path: Path) -> Settings:
    return load_settings(
        env={"LABLEDGER_URI": store_uri, "LABLEDGER_ARTIFACTS": str(tmp_path / "blobs")},
        cwd=tmp_path,
    )


@pytest.fixture
def client(store: Store, server_settings: Settings) -> Iterator[TestClient]:
    from labledger.server.app import create_app

    app = create_app(store, settings=server_settings)
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client
