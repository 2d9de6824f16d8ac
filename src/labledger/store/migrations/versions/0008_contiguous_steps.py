"""Chunks whose steps run one by one store an empty ``steps`` buffer (``metric_rows``): the
chunk's ``count`` and ``step_min`` say them. Nothing changes in the tables; the revision keeps
an older labledger, which would read such a chunk as having no steps, from opening the store.
Downgrading writes those steps out.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    pass


def downgrade() -> None:
    from labledger.store.metric_rows import decode_steps

    bind = op.get_bind()
    chunks = sa.table(
        "metric_chunks",
        sa.column("chunk_id"),
        sa.column("count"),
        sa.column("step_min"),
        sa.column("steps", sa.LargeBinary),
    )
    c = chunks.c
    after = -1
    while True:
        query = (
            sa.select(c.chunk_id, c.count, c.step_min)
            .where(c.chunk_id > after, sa.func.length(c.steps) == 0, c.count > 0)
            .order_by(c.chunk_id)
            .limit(_BATCH)
        )
        found = bind.execute(query).all()
        if not found:
            return
        for chunk_id, count, step_min in found:
            after = chunk_id
            steps = decode_steps(b"", count, step_min).astype("<i8").tobytes()
            bind.execute(sa.update(chunks).where(c.chunk_id == chunk_id).values(steps=steps))
