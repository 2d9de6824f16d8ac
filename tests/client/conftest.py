"""Client tests: a real server process on loopback over a temporary store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.server import ServerProcess


@pytest.fixture
def server_store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server' / 'labledger.db'}"


@pytest.fixture
def server(server_store_uri: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(server_store_uri, tmp_path / "server.log").start()
    yield process
    process.stop()
