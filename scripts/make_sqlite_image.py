"""Write the image of an empty SQLite store at the head schema revision, which a new store is
copied from (``labledger.store.migrate.copy_sqlite_head``):

    python scripts/make_sqlite_image.py

The image is what the Alembic migrations build, compacted and compressed; run this after adding
a migration (``tests/store/test_migrations.py`` fails until the image is at the head).
"""

from __future__ import annotations

import sqlite3
import tempfile
import zlib
from pathlib import Path

from sqlalchemy import create_engine

from labledger.store.migrate import SQLITE_IMAGE, migrate


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.db"
        engine = create_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()
        conn = sqlite3.connect(path)
        conn.execute("VACUUM")
        image = conn.serialize()
        conn.close()
    SQLITE_IMAGE.write_bytes(zlib.compress(image, 9))
    stored = SQLITE_IMAGE.stat().st_size
    print(f"wrote {SQLITE_IMAGE.name}: {len(image):,} bytes, {stored:,} stored")


if __name__ == "__main__":
    main()
