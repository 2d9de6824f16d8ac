"""Settings: built once at the program's edge from the environment and config files.

This is the only module that reads ``os.environ`` for labledger's own settings. Every variable
is declared once in ``ENV_VARS`` with its meaning; ``labledger --help`` and the docs list them.

Lookup order for the store location: ``LABLEDGER_URI``, ``LABLEDGER_DIR``, the ``uri``/``dir``
keys of ``labledger.toml`` (or ``[tool.labledger]`` in ``pyproject.toml``) at the project root,
then ``.labledger/`` at the project root. The project root is the nearest ancestor holding
``.git``, else the current directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labledger.errors import ConfigError

ENV_VARS: dict[str, str] = {
    "LABLEDGER_URI": (
        "Store URI: sqlite:///path/to.db, postgresql://user@host/db or a team server "
        "http(s)://host:port."
    ),
    "LABLEDGER_DIR": "Folder of the embedded store (SQLite database and artifacts).",
    "LABLEDGER_ARTIFACTS": "Artifact storage: a folder or s3://bucket/prefix.",
    "LABLEDGER_PROJECT": "Default project name for runs.",
    "LABLEDGER_FLUSH_INTERVAL": "Seconds between background flushes to the store (default 0.05).",
    "LABLEDGER_HEARTBEAT_INTERVAL": "Seconds between run heartbeats (default 5).",
    "LABLEDGER_CRASH_AFTER": (
        "A running run without a heartbeat for this long is crashed (default 30)."
    ),
    "LABLEDGER_SYSTEM_METRICS_INTERVAL": (
        "Seconds between system metric samples; 0 disables (default 5)."
    ),
    "LABLEDGER_CAPTURE_CONSOLE": "1 to record stdout/stderr into the run (default), 0 to disable.",
    "LABLEDGER_STRICT": "1 to re-raise logging errors instead of warning (for tests).",
    "LABLEDGER_REPRODUCES": "Set by `labledger reproduce`: the run ID new runs reproduce.",
    "LABLEDGER_SERVER_URL": "Base URL of the team server, for links in `labledger share`.",
    "LABLEDGER_TOKEN": "API token for a team server (sent as `Authorization: Bearer ...`).",
    "LABLEDGER_MODE": "online (default) or offline: offline runs are journaled locally and "
    "delivered to the server by `labledger sync`.",
    "LABLEDGER_JOURNAL_MAX_MB": (
        "Size bound of a process's journal of undelivered writes, in MiB (default 1024)."
    ),
    "S3_ENDPOINT_URL": "Endpoint of an S3-compatible server for s3:// artifact storage.",
}

CONFIG_FILE = "labledger.toml"
DEFAULT_DIRNAME = ".labledger"


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one process."""

    uri: str
    root: Path
    artifact_uri: str
    project: str | None = None
    flush_interval: float = 0.05
    heartbeat_interval: float = 5.0
    crash_after: float = 30.0
    system_metrics_interval: float = 5.0
    capture_console: bool = True
    strict: bool = False
    s3_endpoint_url: str | None = None
    reproduces: str | None = None
    server_url: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    offline: bool = False
    journal_max_bytes: int = 1 << 30

    @property
    def journal_dir(self) -> Path:
        """Where a process journals writes a server has not acknowledged yet."""
        return self.root / "journal"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def find_project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of ``start`` holding ``.git``, else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def _read_file_config(root: Path) -> dict[str, Any]:
    path = root / CONFIG_FILE
    pyproject = root / "pyproject.toml"
    if not path.is_file() and not pyproject.is_file():
        return {}
    import tomllib

    try:
        if path.is_file():
            return dict(tomllib.loads(path.read_text()))
        data = tomllib.loads(pyproject.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read {path.name}: {exc}") from exc
    section = data.get("tool", {}).get("labledger", {})
    return dict(section) if isinstance(section, dict) else {}


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def sqlite_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'labledger.db'}"


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build the settings from ``env`` (default ``os.environ``) and the project's config file."""
    env = os.environ if env is None else env
    root = find_project_root(cwd)
    file_config = _read_file_config(root)

    folder_setting = env.get("LABLEDGER_DIR") or file_config.get("dir")
    folder = Path(folder_setting).expanduser() if folder_setting else root / DEFAULT_DIRNAME
    if not folder.is_absolute():
        folder = root / folder
    uri = env.get("LABLEDGER_URI") or file_config.get("uri") or sqlite_uri(folder)
    if not isinstance(uri, str) or "://" not in uri:
        raise ConfigError(
            "store URI must look like sqlite:///path, postgresql://... or http(s)://host:port,"
            f" got {uri!r}"
        )
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
    artifact_uri = env.get("LABLEDGER_ARTIFACTS") or file_config.get("artifacts")
    if not artifact_uri:
        artifact_uri = str(folder / "artifacts")

    policy = file_config.get("policy", {})
    if not isinstance(policy, dict):
        raise ConfigError(f"[policy] in {CONFIG_FILE} must be a table, got {policy!r}")

    mode = env.get("LABLEDGER_MODE") or file_config.get("mode") or "online"
    if mode not in ("online", "offline"):
        raise ConfigError(f"LABLEDGER_MODE must be online or offline, got {mode!r}")

    return Settings(
        uri=uri,
        root=folder,
        artifact_uri=str(artifact_uri),
        project=env.get("LABLEDGER_PROJECT") or file_config.get("project"),
        flush_interval=_number(env, "LABLEDGER_FLUSH_INTERVAL", 0.05),
        heartbeat_interval=_number(env, "LABLEDGER_HEARTBEAT_INTERVAL", 5.0),
        crash_after=_number(env, "LABLEDGER_CRASH_AFTER", 30.0),
        system_metrics_interval=_number(env, "LABLEDGER_SYSTEM_METRICS_INTERVAL", 5.0),
        capture_console=env.get("LABLEDGER_CAPTURE_CONSOLE", "1") != "0",
        strict=env.get("LABLEDGER_STRICT", "0") == "1",
        s3_endpoint_url=env.get("S3_ENDPOINT_URL") or file_config.get("s3_endpoint_url"),
        reproduces=env.get("LABLEDGER_REPRODUCES") or None,
        server_url=env.get("LABLEDGER_SERVER_URL") or file_config.get("server_url"),
        policy=dict(policy),
        token=env.get("LABLEDGER_TOKEN") or None,
        offline=mode == "offline",
        journal_max_bytes=int(_number(env, "LABLEDGER_JOURNAL_MAX_MB", 1024) * (1 << 20)),
    )
