"""The team store on PostgreSQL (psycopg 3)."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from labledger.errors import MissingExtra
from labledger.store.migrate import upgrade
from labledger.store.sql import SqlStore

_MIGRATION_LOCK = 0x1AB1ED9E  # pg_advisory_lock key: one migrating process at a time


class PostgresStore(SqlStore):
    """Runs in a PostgreSQL database; ``postgresql://user@host:port/db``."""

    def __init__(self, uri: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingExtra("psycopg", "postgres") from None
        driver_uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
        engine = create_engine(driver_uri, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            try:
                upgrade(engine)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
        super().__init__(uri, engine)
