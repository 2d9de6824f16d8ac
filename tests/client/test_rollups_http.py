"""Envelopes through ``HttpStore`` and a real server process: read from the server's
rollups, equal to a brute force over the raw points."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from labledger.store.base import Store
from labledger.store.http import HttpStore
from tests.client.server import ServerProcess
from tests.store import test_rollups as rollups

pytestmark = pytest.mark.slow

test_envelope_equals_brute_force = rollups.test_envelope_equals_brute_force
test_batch_read_and_missing_keys = rollups.test_batch_read_and_missing_keys


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    server = ServerProcess(f"sqlite:///{tmp_path / 'db' / 'labledger.db'}", tmp_path / "log")
    server.start()
    opened = HttpStore(server.url, journal_dir=tmp_path / "journal")
    yield opened
    opened.close()
    server.stop()


def test_many_series_in_one_request(store: Store) -> None:
    rng = np.random.default_rng(1)
    made = [rollups._series(store, rng, 3_000) for _ in range(3)]
    views = store.read_envelopes([(run_id, "m") for run_id, _, _ in made], 40, start=100)
    for (_, steps, values), view in zip(made, views, strict=True):
        rollups._check(view, steps, values, 100, None, 40)
