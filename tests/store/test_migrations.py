"""The Alembic migration builds exactly the schema the code declares."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from labledger.store import open_store
from labledger.store.migrate import (
    HEAD_REVISION,
    MIGRATIONS,
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


@pytest.mark.parametrize("image", ["shipped", "missing"])
def test_a_new_sqlite_store_is_created_as_the_migrations_build_it(
    tmp_path: Path, image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new SQLite store is copied from the shipped image (no Alembic: half a second of a
    first run), or built by the migrations when there is none: either way it must end up
    with the very schema, rows and revision the migrations give."""
    if image == "missing":
        monkeypatch.setattr("labledger.store.migrate.SQLITE_IMAGE", tmp_path / "none.zlib")
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}").close()
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrate(migrated)
    created = create_engine(f"sqlite:///{fresh}")
    assert current_revision(created) == HEAD_REVISION, "run scripts/make_sqlite_image.py"
    assert _described(created) == _described(migrated), "run scripts/make_sqlite_image.py"
    with created.connect() as conn:
        when = conn.execute(text("SELECT created_at FROM experiments")).scalar()
    assert abs(when - time.time()) < 60  # the Default experiment is as new as the store
    with created.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    created.dispose()
    migrated.dispose()


def test_the_sqlite_image_is_what_schema_py_declares(tmp_path: Path) -> None:
    """A new store's schema (copied from the image) is metadata.create_all's DDL, statement
    by statement (in any order: SQLAlchemy's order of a table's indexes varies)."""
    declared = create_engine(f"sqlite:///{tmp_path / 'declared.db'}")
    metadata.create_all(declared)
    fresh = tmp_path / "fresh.db"
    open_store(f"sqlite:///{fresh}").close()
    created = create_engine(f"sqlite:///{fresh}")

    def ddl(engine: Engine) -> list[tuple[str, str, str]]:
        query = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        with engine.connect() as conn:
            rows = conn.execute(text(query)).all()
        return sorted((kind, name, " ".join(sql.split())) for kind, name, sql in rows)

    stamp = [row for row in ddl(created) if row[1] == "alembic_version"]
    assert len(stamp) == 1
    assert [row for row in ddl(created) if row not in stamp] == ddl(declared)
    declared.dispose()
    created.dispose()


def test_a_store_whose_database_has_tables_but_no_revision_is_migrated(tmp_path: Path) -> None:
    """A database with tables and no revision (not made by labledger's head schema) is left to
    the migrations, which refuse what they cannot upgrade instead of overwriting it."""
    path = tmp_path / "other.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
        conn.execute(text("INSERT INTO notes VALUES ('kept')"))
    engine.dispose()
    open_store(f"sqlite:///{path}").close()
    engine = create_engine(f"sqlite:///{path}")
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        assert conn.execute(text("SELECT body FROM notes")).scalar() == "kept"
    engine.dispose()


def test_a_run_in_a_new_sqlite_store_imports_neither_alembic_nor_sqlalchemy(
    tmp_path: Path,
) -> None:
    """Creating the store, a run's flushes and its seal go through plain ``sqlite3``."""
    uri = f"sqlite:///{tmp_path / 's.db'}"
    code = (
        "import sys, labledger as ll\n"
        f"run = ll.init(project='p', uri={uri!r}, config={{'lr': 0.1}})\n"
        "for i in range(100):\n"
        "    run.log({'loss': 1 / (i + 1)}, step=i)\n"
        "    run.flush() if i == 50 else None\n"
        "run.summary['acc'] = 0.5\n"
        "run.finish()\n"
        "print('alembic' in sys.modules, 'sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "False False"
    run = open_store(uri).search_runs("p")[0]
    assert run.status == "finished" and run.fingerprint and run.summary["acc"] == 0.5


def test_downgrading_0008_writes_out_the_steps_of_one_by_one_chunks(store_uri: str) -> None:
    """A chunk stored without its steps (they run one by one) gets them back on a downgrade
    to 0007, which reads every chunk's steps from its buffer."""
    import numpy as np
    from alembic import command
    from sqlalchemy import select

    from labledger.entities import RunRecord, new_run_id
    from labledger.store.base import MetricColumns
    from labledger.store.schema import metric_chunks

    store = open_store(store_uri)
    run = RunRecord(run_id=new_run_id(), project="p", name="n")
    store.create_run(run)
    parts = [np.arange(5, 105), np.array([3, 1, 2]), np.arange(-7, -6)]
    for steps in parts:
        values = np.linspace(0, 1, len(steps))
        store.write_metrics(run.run_id, {"m": MetricColumns(steps, values, values)})
    store.close()
    engine = create_engine(store_uri)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    c = metric_chunks.c
    with engine.connect() as conn:
        query = select(c.steps).where(c.run_id == run.run_id).order_by(c.chunk_id)
        stored = [np.frombuffer(b, "<i8").tolist() for b in conn.execute(query).scalars()]
    engine.dispose()
    assert stored == [p.tolist() for p in parts]


def test_one_by_one_chunks_are_stored_without_their_steps(store_uri: str) -> None:
    """Revision 0008: a chunk whose steps run one by one stores an empty steps buffer; any
    other chunk stores every step."""
    import numpy as np
    from sqlalchemy import func, select

    from labledger.entities import RunRecord, new_run_id
    from labledger.store.base import MetricColumns
    from labledger.store.schema import metric_chunks

    store = open_store(store_uri)
    run = RunRecord(run_id=new_run_id(), project="p", name="n")
    store.create_run(run)
    parts = [np.arange(5, 105), np.arange(0, 50, 2), np.array([4, 4]), np.array([9])]
    for steps in parts:
        values = np.ones(len(steps))
        store.write_metrics(run.run_id, {"m": MetricColumns(steps, values, values)})
    c = metric_chunks.c
    with store._engine.connect() as conn:  # type: ignore[attr-defined]
        query = select(func.length(c.steps)).where(c.run_id == run.run_id).order_by(c.chunk_id)
        sizes = list(conn.execute(query).scalars())
    store.close()
    assert sizes == [0, 8 * 25, 16, 0]
