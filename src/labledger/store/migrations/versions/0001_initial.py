"""Initial schema: runs, params, metric summaries and chunks, captures, outputs, artifacts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("group_name", sa.String(200)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("exit_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("reproduces", sa.String(32)),
        sa.Column("fingerprint", sa.String(80)),
    )
    op.create_index("ix_runs_project_created", "runs", ["project", "created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])

    op.create_table(
        "params",
        sa.Column("run_id", sa.String(32), run_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value_num", sa.Float),
        sa.Column("value_text", sa.Text),
        sa.Column("value_json", sa.Text, nullable=False),
    )
    op.create_index("ix_params_key_num", "params", ["key", "value_num"])
    op.create_index("ix_params_key_text", "params", ["key", "value_text"])

    op.create_table(
        "metric_summaries",
        sa.Column("run_id", sa.String(32), run_fk(), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("last", sa.Float),
        sa.Column("min", sa.Float),
        sa.Column("max", sa.Float),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_step", sa.BigInteger),
        sa.Column("last_time", sa.Float),
    )
    op.create_index("ix_metric_summaries_key_last", "metric_summaries", ["key", "last"])

    op.create_table(
        "metric_chunks",
        sa.Column("chunk_id", ID, primary_key=True),
        sa.Column("run_id", sa.String(32), run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("step_min", sa.BigInteger, nullable=False),
        sa.Column("step_max", sa.BigInteger, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("vals", sa.LargeBinary, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_metric_chunks_run_key", "metric_chunks", ["run_id", "key", "chunk_id"])

    op.create_table(
        "documents",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "captures",
        sa.Column("run_id", sa.String(32), run_fk(), primary_key=True),
        sa.Column("section", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), sa.ForeignKey("documents.digest"), nullable=False),
    )
    op.create_table(
        "outputs",
        sa.Column("output_id", ID, primary_key=True),
        sa.Column("run_id", sa.String(32), run_fk(), nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_outputs_run", "outputs", ["run_id", "output_id"])

    op.create_table(
        "artifact_versions",
        sa.Column("artifact_id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("reference", sa.Boolean, nullable=False),
        sa.Column("uri", sa.Text),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="SET NULL")),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ux_artifact_versions_name_version", "artifact_versions", ["name", "version"], unique=True
    )
    op.create_index("ix_artifact_versions_name_digest", "artifact_versions", ["name", "digest"])
    op.create_table(
        "artifact_aliases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("alias", sa.String(100), primary_key=True),
        sa.Column(
            "artifact_id",
            ID,
            sa.ForeignKey("artifact_versions.artifact_id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_table(
        "artifact_usage",
        sa.Column("run_id", sa.String(32), run_fk(), primary_key=True),
        sa.Column(
            "artifact_id",
            ID,
            sa.ForeignKey("artifact_versions.artifact_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("used_at", sa.Float, nullable=False),
    )
    op.create_index("ix_artifact_usage_artifact", "artifact_usage", ["artifact_id"])


def downgrade() -> None:
    for table in (
        "artifact_usage",
        "artifact_aliases",
        "artifact_versions",
        "outputs",
        "captures",
        "documents",
        "metric_chunks",
        "metric_summaries",
        "params",
        "runs",
    ):
        op.drop_table(table)
