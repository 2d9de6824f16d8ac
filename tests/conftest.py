"""Shared fixtures: every test gets its own store (SQLite in tmp_path, or a fresh PostgreSQL
schema), and settings are built from an explicit environment, never from the developer's."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from labledger.config import Settings, load_settings
from labledger.sdk.backend import close_stores

# Property tests check results, never time: Hypothesis's 200 ms deadline per example only
# measures how loaded the machine is (parallel workers on 2 cores).
hypothesis_settings.register_profile("labledger", deadline=None)
hypothesis_settings.load_profile("labledger")

# Caches that outlive a process (the environment capture's) go to a folder of this session's,
# not the developer's: set once, so the in-process caches keyed on it stay valid test to test.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="labledger-test-cache-")

POSTGRES_URL = os.environ.get(
    "LABLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the default store at tmp_path and keep background sampling out of tests."""
    for name in list(os.environ):
        if name.startswith("LABLEDGER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LABLEDGER_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
    monkeypatch.setenv("LABLEDGER_STRICT", "1")
    monkeypatch.chdir(tmp_path)
    yield
    import labledger

    while labledger.current_run() is not None:
        labledger.finish()
    close_stores()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        env={
            "LABLEDGER_DIR": str(tmp_path / "store"),
            "LABLEDGER_SYSTEM_METRICS_INTERVAL": "0",
            "LABLEDGER_STRICT": "1",
        },
        cwd=tmp_path,
    )


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A PostgreSQL URI whose search_path is a fresh schema, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        close_stores()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test against each store backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'contract' / 'labledger.db'}"
    return str(request.getfixturevalue("postgres_uri"))
