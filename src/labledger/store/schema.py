"""The one SQLAlchemy schema shared by the SQLite and PostgreSQL stores.

Metric series are stored in chunks: each row holds one flush of one key as raw little-endian
numpy columns (steps int64, empty when they run one by one; values float64, times float64).
Reading a series concatenates its chunks; a million points read back in milliseconds instead
of seconds for one row per point.
Large capture documents (the package list, for instance) are stored once by content digest.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    Column("group_name", String(200)),
    Column("tags", JSON, nullable=False),
    Column("notes", Text),
    Column("config", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("exit_code", Integer),
    Column("error", Text),
    Column("reproduces", String(32)),
    Column("fingerprint", String(80)),
    Index("ix_runs_project_created", "project", "created_at"),
    Index("ix_runs_status", "status"),
)

# Flattened config ("optimizer.lr") for filtering and sorting; the nested original is runs.config.
params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value_num", Float),
    Column("value_text", Text),
    Column("value_json", Text, nullable=False),
    Index("ix_params_key_num", "key", "value_num"),
    Index("ix_params_key_text", "key", "value_text"),
)

metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("last", Float),
    Column("min", Float),
    Column("max", Float),
    Column("count", BigInteger, nullable=False),
    Column("last_step", BigInteger),
    Column("last_time", Float),
    Index("ix_metric_summaries_key_last", "key", "last"),
    # The runs query's logged series of the matched runs: a run's summary-only rows
    # (count 0, one per summary value) are left out of the index.
    Index(
        "ix_metric_summaries_logged",
        "run_id",
        sqlite_where=text("count > 0"),
        postgresql_where=text("count > 0"),
    ),
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("chunk_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("count", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),
    Column("step_max", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("vals", LargeBinary, nullable=False),
    Column("times", LargeBinary, nullable=False),
    Index("ix_metric_chunks_run_key", "run_id", "key", "chunk_id"),
)

# Multi-resolution summaries of each chunk (``labledger.store.rollups``): one row per chunk
# and level, the chunk's step-aligned buckets encoded in ``data`` (migration 0005).
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("rollup_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("level", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),  # first step of the first bucket
    Column("step_max", BigInteger, nullable=False),  # last step of the last bucket
    Column("count", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_metric_rollups_run_key_level", "run_id", "key", "level", "rollup_id"),
)

documents = Table(
    "documents",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("body", Text, nullable=False),
)

captures = Table(
    "captures",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(64), primary_key=True),
    Column("digest", String(64), ForeignKey("documents.digest"), nullable=False),
)

outputs = Table(
    "outputs",
    metadata,
    Column("output_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("stream", String(8), nullable=False),
    Column("time", Float, nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_outputs_run", "run_id", "output_id"),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("artifact_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("reference", Boolean, nullable=False),
    Column("uri", Text),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Index("ux_artifact_versions_name_version", "name", "version", unique=True),
    Index("ix_artifact_versions_name_digest", "name", "digest"),
)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column(
        "artifact_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("artifact_versions.artifact_id", ondelete="CASCADE"),
        nullable=False,
    ),
)

artifact_usage = Table(
    "artifact_usage",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column(
        "artifact_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("artifact_versions.artifact_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("used_at", Float, nullable=False),
    Index("ix_artifact_usage_artifact", "artifact_id"),
)

# Idempotency keys (``<run_id>:<writer sequence>``) of applied batches: written in the same
# transaction as the batch, so a batch delivered twice (a retry, a journal replay) lands once.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("applied_at", Float, nullable=False),
    Index("ix_applied_batches_run", "run_id"),
)

# --- team server: identity and access (migration 0003) ------------------------------------
users = Table(
    "users",
    metadata,
    Column("user_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("password_hash", Text),  # scrypt; NULL: token-only user
    Column("is_admin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ux_users_name", "name", unique=True),
)

# Projects a server knows; runs name their project by string, so a project row is what
# memberships hang on (server admins see every project, registered or not).
projects = Table(
    "projects",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(100)),
)

memberships = Table(
    "memberships",
    metadata,
    Column(
        "user_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("users.user_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "project",
        String(200),
        ForeignKey("projects.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(16), nullable=False),
    Index("ix_memberships_project", "project"),
)

# API tokens and UI sessions. The public part (token_id) finds the row; only a salted
# SHA-256 of the secret part is stored, compared in constant time.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(24), primary_key=True),
    Column(
        "user_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("users.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # "api" or "session"
    Column("salt", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    Index("ix_api_tokens_user", "user_id"),
)

# --- MLflow-compatible endpoint (migration 0006) -------------------------------------------
# A stable numeric ID per project (MLflow's experiment_id); row 0 is MLflow's "Default".
experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),  # "active" or "deleted"
    Column("artifact_location", Text),
    Column("tags", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ux_experiments_name", "name", unique=True),
)
