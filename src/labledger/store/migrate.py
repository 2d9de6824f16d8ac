"""Schema migrations with Alembic, applied automatically when a store is opened.

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
    """Bring the schema to ``HEAD_REVISION``; a no-op (one query) when it is already there."""
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    check_known(revision)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
