"""The Store contract suite against ``HttpStore`` through a real server process, with
journaled, asynchronous writes as the SDK uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labledger.store.base import ArtifactRegistry, Store
from labledger.store.http import HttpStore
from tests.client.server import ServerProcess
from tests.store import test_contract as contract

pytestmark = pytest.mark.slow

_SKIP = {"test_reopening_an_existing_store_keeps_data"}  # opens the URI directly

for _name in dir(contract):
    if _name.startswith("test_") and _name not in _SKIP:
        globals()[_name] = getattr(contract, _name)


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """SQLite behind the server (the PostgreSQL path is covered by the delivery tests)."""
    return f"sqlite:///{tmp_path / 'contract' / 'labledger.db'}"


@pytest.fixture
def store(store_uri: str, tmp_path: Path) -> Iterator[Store]:
    server = ServerProcess(store_uri, tmp_path / "server.log").start()
    opened = HttpStore(server.url, journal_dir=tmp_path / "journal")
    yield opened
    opened.close()
    server.stop()
    assert list((tmp_path / "journal").glob("*.journal")) == []  # everything acknowledged


def test_http_store_satisfies_the_protocols(store: Store) -> None:
    assert isinstance(store, Store) and isinstance(store.artifacts, ArtifactRegistry)
