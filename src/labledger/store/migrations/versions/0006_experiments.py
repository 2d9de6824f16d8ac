"""Experiments of the MLflow-compatible endpoint: a stable numeric ID per project, its
lifecycle stage (active or deleted), experiment tags and artifact location. Row 0 is MLflow's
``Default`` experiment.

Revision ID: 0006
Revises: 0005
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "experiments",
        sa.Column(
            "experiment_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.Column("artifact_location", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ux_experiments_name", "experiments", ["name"], unique=True)
    now = time.time()
    row = {
        "experiment_id": 0,
        "name": "Default",
        "lifecycle_stage": "active",
        "artifact_location": None,
        "tags": {},
        "created_at": now,
        "updated_at": now,
    }
    op.bulk_insert(table, [row])


def downgrade() -> None:
    op.drop_index("ux_experiments_name", "experiments")
    op.drop_table("experiments")
