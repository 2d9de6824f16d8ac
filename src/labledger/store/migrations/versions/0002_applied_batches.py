"""Idempotency keys of applied batches, so a batch delivered twice is stored once.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_batches",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("applied_at", sa.Float, nullable=False),
    )
    op.create_index("ix_applied_batches_run", "applied_batches", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_applied_batches_run", "applied_batches")
    op.drop_table("applied_batches")
