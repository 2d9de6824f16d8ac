-- The SQLite schema at the head revision (HEAD_REVISION in migrate.py): what
-- metadata.create_all builds from schema.py, which a new, empty store runs without SQLAlchemy.
-- tests/store/test_migrations.py checks it against schema.py and against the migrations.

CREATE TABLE runs (
	run_id VARCHAR(32) NOT NULL,
	project VARCHAR(200) NOT NULL,
	name VARCHAR(200) NOT NULL,
	status VARCHAR(16) NOT NULL,
	created_at FLOAT NOT NULL,
	ended_at FLOAT,
	heartbeat_at FLOAT,
	group_name VARCHAR(200),
	tags JSON NOT NULL,
	notes TEXT,
	config JSON NOT NULL,
	summary JSON NOT NULL,
	host VARCHAR(255),
	pid INTEGER,
	exit_code INTEGER,
	error TEXT,
	reproduces VARCHAR(32),
	fingerprint VARCHAR(80),
	PRIMARY KEY (run_id)
);

CREATE INDEX ix_runs_project_created ON runs (project, created_at);

CREATE INDEX ix_runs_status ON runs (status);

CREATE TABLE documents (
	digest VARCHAR(64) NOT NULL,
	body TEXT NOT NULL,
	PRIMARY KEY (digest)
);

CREATE TABLE users (
	user_id INTEGER NOT NULL,
	name VARCHAR(100) NOT NULL,
	password_hash TEXT,
	is_admin BOOLEAN NOT NULL,
	disabled BOOLEAN NOT NULL,
	created_at FLOAT NOT NULL,
	PRIMARY KEY (user_id)
);

CREATE UNIQUE INDEX ux_users_name ON users (name);

CREATE TABLE projects (
	name VARCHAR(200) NOT NULL,
	created_at FLOAT NOT NULL,
	created_by VARCHAR(100),
	PRIMARY KEY (name)
);

CREATE TABLE experiments (
	experiment_id INTEGER NOT NULL,
	name VARCHAR(200) NOT NULL,
	lifecycle_stage VARCHAR(16) NOT NULL,
	artifact_location TEXT,
	tags JSON NOT NULL,
	created_at FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	PRIMARY KEY (experiment_id)
);

CREATE UNIQUE INDEX ux_experiments_name ON experiments (name);

CREATE TABLE params (
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	value_num FLOAT,
	value_text TEXT,
	value_json TEXT NOT NULL,
	PRIMARY KEY (run_id, "key"),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_params_key_text ON params ("key", value_text);

CREATE INDEX ix_params_key_num ON params ("key", value_num);

CREATE TABLE metric_summaries (
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	last FLOAT,
	min FLOAT,
	max FLOAT,
	count BIGINT NOT NULL,
	last_step BIGINT,
	last_time FLOAT,
	PRIMARY KEY (run_id, "key"),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_metric_summaries_key_last ON metric_summaries ("key", last);

CREATE INDEX ix_metric_summaries_logged ON metric_summaries (run_id) WHERE count > 0;

CREATE TABLE metric_chunks (
	chunk_id INTEGER NOT NULL,
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	count INTEGER NOT NULL,
	step_min BIGINT NOT NULL,
	step_max BIGINT NOT NULL,
	steps BLOB NOT NULL,
	vals BLOB NOT NULL,
	times BLOB NOT NULL,
	PRIMARY KEY (chunk_id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_metric_chunks_run_key ON metric_chunks (run_id, "key", chunk_id);

CREATE TABLE metric_rollups (
	rollup_id INTEGER NOT NULL,
	run_id VARCHAR(32) NOT NULL,
	"key" VARCHAR(250) NOT NULL,
	level INTEGER NOT NULL,
	step_min BIGINT NOT NULL,
	step_max BIGINT NOT NULL,
	count BIGINT NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (rollup_id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_metric_rollups_run_key_level ON metric_rollups (run_id, "key", level, rollup_id);

CREATE TABLE captures (
	run_id VARCHAR(32) NOT NULL,
	section VARCHAR(64) NOT NULL,
	digest VARCHAR(64) NOT NULL,
	PRIMARY KEY (run_id, section),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE,
	FOREIGN KEY(digest) REFERENCES documents (digest)
);

CREATE TABLE outputs (
	output_id INTEGER NOT NULL,
	run_id VARCHAR(32) NOT NULL,
	stream VARCHAR(8) NOT NULL,
	time FLOAT NOT NULL,
	text TEXT NOT NULL,
	PRIMARY KEY (output_id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_outputs_run ON outputs (run_id, output_id);

CREATE TABLE artifact_versions (
	artifact_id INTEGER NOT NULL,
	name VARCHAR(200) NOT NULL,
	version INTEGER NOT NULL,
	type VARCHAR(64) NOT NULL,
	digest VARCHAR(64) NOT NULL,
	size BIGINT NOT NULL,
	manifest JSON NOT NULL,
	meta JSON NOT NULL,
	reference BOOLEAN NOT NULL,
	uri TEXT,
	run_id VARCHAR(32),
	created_at FLOAT NOT NULL,
	PRIMARY KEY (artifact_id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE SET NULL
);

CREATE INDEX ix_artifact_versions_name_digest ON artifact_versions (name, digest);

CREATE UNIQUE INDEX ux_artifact_versions_name_version ON artifact_versions (name, version);

CREATE TABLE applied_batches (
	"key" VARCHAR(200) NOT NULL,
	run_id VARCHAR(32) NOT NULL,
	applied_at FLOAT NOT NULL,
	PRIMARY KEY ("key"),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_applied_batches_run ON applied_batches (run_id);

CREATE TABLE memberships (
	user_id INTEGER NOT NULL,
	project VARCHAR(200) NOT NULL,
	role VARCHAR(16) NOT NULL,
	PRIMARY KEY (user_id, project),
	FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE,
	FOREIGN KEY(project) REFERENCES projects (name) ON DELETE CASCADE
);

CREATE INDEX ix_memberships_project ON memberships (project);

CREATE TABLE api_tokens (
	token_id VARCHAR(24) NOT NULL,
	user_id INTEGER NOT NULL,
	name VARCHAR(100) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	salt VARCHAR(32) NOT NULL,
	secret_hash VARCHAR(64) NOT NULL,
	created_at FLOAT NOT NULL,
	expires_at FLOAT,
	last_used_at FLOAT,
	revoked_at FLOAT,
	PRIMARY KEY (token_id),
	FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE
);

CREATE INDEX ix_api_tokens_user ON api_tokens (user_id);

CREATE TABLE artifact_aliases (
	name VARCHAR(200) NOT NULL,
	alias VARCHAR(100) NOT NULL,
	artifact_id INTEGER NOT NULL,
	PRIMARY KEY (name, alias),
	FOREIGN KEY(artifact_id) REFERENCES artifact_versions (artifact_id) ON DELETE CASCADE
);

CREATE TABLE artifact_usage (
	run_id VARCHAR(32) NOT NULL,
	artifact_id INTEGER NOT NULL,
	used_at FLOAT NOT NULL,
	PRIMARY KEY (run_id, artifact_id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE,
	FOREIGN KEY(artifact_id) REFERENCES artifact_versions (artifact_id) ON DELETE CASCADE
);

CREATE INDEX ix_artifact_usage_artifact ON artifact_usage (artifact_id);
