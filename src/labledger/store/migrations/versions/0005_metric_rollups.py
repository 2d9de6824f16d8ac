"""Multi-resolution summaries of metric series (``metric_rollups``), backfilled from the
stored chunks so existing runs read through them too.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column(
            "rollup_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
        ),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("step_min", sa.BigInteger, nullable=False),
        sa.Column("step_max", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_metric_rollups_run_key_level",
        "metric_rollups",
        ["run_id", "key", "level", "rollup_id"],
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE metric_rollups ALTER COLUMN data SET STORAGE EXTERNAL")
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    import numpy as np

    from labledger.store.metric_rows import rollup_rows

    chunks = sa.table(
        "metric_chunks",
        sa.column("chunk_id"),
        sa.column("run_id"),
        sa.column("key"),
        sa.column("steps"),
        sa.column("vals"),
    )
    rollups = sa.table(
        "metric_rollups",
        *(sa.column(c) for c in ("run_id", "key", "level", "step_min", "step_max", "count")),
        sa.column("data"),
    )
    after = -1
    while True:
        query = (
            sa.select(
                chunks.c.chunk_id, chunks.c.run_id, chunks.c.key, chunks.c.steps, chunks.c.vals
            )
            .where(chunks.c.chunk_id > after)
            .order_by(chunks.c.chunk_id)
            .limit(_BATCH)
        )
        found = bind.execute(query).all()
        if not found:
            return
        rows = []
        for chunk_id, run_id, key, steps, vals in found:
            after = chunk_id
            s = np.frombuffer(steps, dtype="<i8")
            v = np.frombuffer(vals, dtype="<f8")
            rows.extend(rollup_rows(run_id, key, s, v))
        if rows:
            bind.execute(sa.insert(rollups), rows)


def downgrade() -> None:
    op.drop_index("ix_metric_rollups_run_key_level", "metric_rollups")
    op.drop_table("metric_rollups")
