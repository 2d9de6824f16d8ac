"""A partial index of the logged series (``metric_summaries`` rows with ``count > 0``) by
run: the columnar runs query reads the matched runs' logged series without visiting their
summary-only rows.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_metric_summaries_logged",
        "metric_summaries",
        ["run_id"],
        sqlite_where=sa.text("count > 0"),
        postgresql_where=sa.text("count > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_metric_summaries_logged", table_name="metric_summaries")
