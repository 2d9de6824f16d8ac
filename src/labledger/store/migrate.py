"""Schema migrations with Alembic, applied automatically when a store is opened.

A new, empty SQLite database (the first run in a project) is created from the declared schema
at the head revision instead, without importing Alembic, which costs a first run in a fresh
process about half a second; tests check that both ways build the same schema and rows.
A database whose revision this version of labledger does not know (written by a newer
labledger) is refused with a clear error instead of being touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labledger.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

HEAD_REVISION = "0006"
MIGRATIONS = Path(__file__).with_name("migrations")


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
    if revision is None and engine.dialect.name == "sqlite" and create_at_head(engine):
        return
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


def create_at_head(engine: Engine) -> bool:
    """Create the schema of ``HEAD_REVISION`` in a database without tables, with the rows its
    migrations insert, stamped at that revision (what ``upgrade`` would build). False, and
    nothing done, when the database has tables."""
    import time

    from sqlalchemy import inspect, text

    from labledger.store.schema import experiments, metadata

    with engine.begin() as conn:
        if inspect(conn).get_table_names():
            return False
        metadata.create_all(conn)
        now = time.time()
        conn.execute(
            experiments.insert(),
            {
                "experiment_id": 0,
                "name": "Default",
                "lifecycle_stage": "active",
                "artifact_location": None,
                "tags": {},
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": HEAD_REVISION})
    return True
