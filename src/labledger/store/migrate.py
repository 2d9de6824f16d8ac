"""Schema migrations with Alembic, applied automatically when a store is opened.

A new, empty SQLite database (the first run in a project) is created from the schema at the
head revision instead (``sqlite_schema.sql``, on a plain ``sqlite3`` connection), without
importing Alembic or SQLAlchemy, which cost a first run in a fresh process about half a second;
tests check that both ways build the same schema and rows, and that of ``schema.py``.
A database whose revision this version of labledger does not know (written by a newer
labledger) is refused with a clear error instead of being touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labledger.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from labledger.store.writes import Writes

HEAD_REVISION = "0008"
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_SCHEMA = Path(__file__).with_name("sqlite_schema.sql")


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


def create_sqlite_at_head(w: Writes) -> bool:
    """Create the schema of ``HEAD_REVISION`` in a SQLite database without tables, inside
    ``w``'s write transaction, with the rows its migrations insert, stamped at that revision
    (what ``upgrade`` would build). False, and nothing done, when the database has tables."""
    import time

    if w.first("SELECT name FROM sqlite_master WHERE type = 'table'") is not None:
        return False
    script = SQLITE_SCHEMA.read_text()
    code = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    for statement in code.split(";"):
        if statement.strip():
            w.execute(statement)
    now = time.time()
    w.execute(
        "INSERT INTO experiments (experiment_id, name, lifecycle_stage, artifact_location, "
        "tags, created_at, updated_at) VALUES (0, 'Default', 'active', NULL, '{}', ?, ?)",
        (now, now),
    )
    w.execute(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    w.execute("INSERT INTO alembic_version VALUES (?)", (HEAD_REVISION,))
    return True
