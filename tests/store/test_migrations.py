"""The Alembic migration builds exactly the schema the code declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from labledger.store import open_store
from labledger.store.migrate import (
    HEAD_REVISION,
    MIGRATIONS,
    create_at_head,
    current_revision,
    migrate,
)
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


def _described(engine: Engine) -> dict[str, Any]:
    """Everything the inspector reports of every table, and every row but timestamps."""
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": [
                    (
                        c["name"],
                        str(c["type"]),
                        c["nullable"],
                        c.get("default"),
                        c.get("autoincrement"),
                    )
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                    for f in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
                "rows": [
                    {k: v for k, v in row._mapping.items() if not k.endswith("_at")}
                    for row in conn.execute(text(f'SELECT * FROM "{table}"'))
                ],
            }
    return found


def test_a_new_sqlite_store_is_created_as_the_migrations_build_it(tmp_path: Path) -> None:
    """A new SQLite store skips Alembic (half a second of a first run): it must end up with
    the very schema, rows and revision the migrations give."""
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}").close()
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrate(migrated)
    created = create_engine(f"sqlite:///{fresh}")
    assert current_revision(created) == HEAD_REVISION
    assert _described(created) == _described(migrated)
    with created.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert not create_at_head(created)  # a database with tables is left alone
    created.dispose()
    migrated.dispose()


def test_opening_a_new_sqlite_store_does_not_import_alembic(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 's.db'}"
    code = (
        "import sys; from labledger.store import open_store; "
        f"open_store({uri!r}).close(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
