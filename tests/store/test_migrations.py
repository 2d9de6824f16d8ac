"""The Alembic migration builds exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from labledger.store import open_store
from labledger.store.migrate import HEAD_REVISION, MIGRATIONS, current_revision
from labledger.store.schema import metadata


def test_head_constant_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_metadata(store_uri: str) -> None:
    open_store(store_uri).close()
    engine = create_engine(store_uri.replace("postgresql://", "postgresql+psycopg://"))
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
