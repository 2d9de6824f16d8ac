"""Schema migrations with Alembic, applied automatically when a store is opened.

A new, empty SQLite database (the first run in a project) is instead copied from an image of
an empty store at the head revision (``sqlite_schema.db.zlib``, which
``scripts/make_sqlite_image.py`` builds with the migrations) with SQLite's backup API, on a
plain ``sqlite3`` connection: no Alembic or SQLAlchemy import (about half a second of a first
run in a fresh process), and one step instead of some forty statements (each of which waits for
the GIL while a training loop holds it). Tests check that the copy has the schema and rows the
migrations build, and those of ``schema.py``. A database whose revision this version of
labledger does not know (written by a newer labledger) is refused with a clear error instead
of being touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labledger.errors import ConfigError

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Engine

HEAD_REVISION = "0008"
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_IMAGE = Path(__file__).with_name("sqlite_schema.db.zlib")


def current_revision(engine: Engine) -> str | None:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def known_revisions() -> set[str]:
    """Every revision id shipped with this version (the ``revision = "..."`` of each script)."""
    found = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for line in script.read_text().splitlines():
            if line.startswith("revision = "):
                found.add(line.split("=", 1)[1].strip().strip("\"'"))
    return found


def check_known(revision: str | None) -> None:
    """Raise ConfigError when the database was migrated by a newer labledger."""
    if revision is not None and revision not in known_revisions():
        raise ConfigError(
            f"the database schema is at revision {revision!r}, newer than this labledger "
            f"knows (head {HEAD_REVISION}): upgrade labledger"
        )


def upgrade(engine: Engine) -> None:
    """Bring the schema to ``HEAD_REVISION``; a no-op (one query) when it is already there.
    The caller makes it one process at a time."""
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    check_known(revision)
    migrate(engine)


def migrate(engine: Engine) -> None:
    """Run the Alembic migrations up to the head."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def copy_sqlite_head(conn: sqlite3.Connection) -> bool:
    """Copy the empty store of ``HEAD_REVISION`` (its schema, the rows its migrations insert,
    the revision stamp; the Default experiment created now) into the SQLite database of
    ``conn``, which holds no transaction, when it has no tables. False, and nothing done, when
    it has tables or this SQLite cannot load the image (``upgrade`` then builds the schema)."""
    import sqlite3
    import time
    import zlib

    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'").fetchone() is not None:
        return False
    image = sqlite3.connect(":memory:", isolation_level=None)
    try:
        try:
            image.deserialize(zlib.decompress(SQLITE_IMAGE.read_bytes()))
            stamp = image.execute("SELECT version_num FROM alembic_version").fetchone()
        except (AttributeError, OSError, zlib.error, sqlite3.Error):  # no deserialize(), no image
            return False
        if stamp != (HEAD_REVISION,):
            return False
        now = time.time()
        image.execute(
            "UPDATE experiments SET created_at = ?, updated_at = ? WHERE experiment_id = 0",
            (now, now),
        )
        image.backup(conn)
    finally:
        image.close()
    return True
