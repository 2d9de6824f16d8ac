"""Settings: built once at the program's edge from the environment and config files.

This is the only module that reads ``os.environ`` for labledger's own settings. Every variable
is declared once in ``ENV_VARS`` with its meaning; ``labledger --help`` and the docs list them.

Lookup order for the store location: ``LABLEDGER_URI``, ``LABLEDGER_DIR``, the ``uri``/``dir``
keys of ``labledger.toml`` (or ``[tool.labledger]`` in ``pyproject.toml``) at the project root,
then ``.labledger/`` at the project root. The project root is the nearest ancestor holding
``.git``, else the current directory.
"""

from __future__ import annotations

import copy
import os
import re
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
    "LABLEDGER_TOKEN": (
        "API token for a team server (sent as `Authorization: Bearer ...`); "
        "else the credentials file of `labledger login` is read."
    ),
    "LABLEDGER_MODE": "online (default) or offline: offline runs are journaled locally and "
    "delivered to the server by `labledger sync`.",
    "LABLEDGER_JOURNAL_MAX_MB": (
        "Size bound of a process's journal of undelivered writes, in MiB (default 1024)."
    ),
    "LABLEDGER_POINT_JOURNAL": (
        "1 (default): logged points go to a memory-mapped journal before log() returns, "
        "safe from a process crash; 0: memory only until the next flush."
    ),
    "S3_ENDPOINT_URL": "Endpoint of an S3-compatible server for s3:// artifact storage.",
    "LABLEDGER_CREDENTIALS": (
        "Credentials file written by `labledger login` "
        "(default ~/.config/labledger/credentials.toml)."
    ),
    "LABLEDGER_SERVER_CONFIG": "TOML file with `labledger server` settings ([server] table).",
    "LABLEDGER_SERVER_DB": "`labledger server` database: sqlite:///path or postgresql://...",
    "LABLEDGER_SERVER_ARTIFACTS": "`labledger server` artifact storage: a folder or s3://...",
    "LABLEDGER_SERVER_HOST": "Address `labledger server` binds (default 127.0.0.1).",
    "LABLEDGER_SERVER_PORT": "Port `labledger server` listens on (default 8000).",
    "LABLEDGER_SERVER_WORKERS": "Server worker processes (default 1).",
    "LABLEDGER_S3_PUBLIC_URL": (
        "S3 endpoint clients reach, for presigned URLs (when it differs from S3_ENDPOINT_URL)."
    ),
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
    point_journal: bool = True

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


_file_configs: dict[Path, tuple[Any, dict[str, Any]]] = {}


def _file_key(*paths: Path) -> tuple[Any, ...]:
    keys: list[Any] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            keys.append(None)
            continue
        keys.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return tuple(keys)


def _read_file_config(root: Path) -> dict[str, Any]:
    """The project's config file, parsed again only when its stat changed (every ``init``
    reads it; a sweep's hundreds of runs need not parse the same TOML each time)."""
    path = root / CONFIG_FILE
    pyproject = root / "pyproject.toml"
    key = _file_key(path, pyproject)
    cached = _file_configs.get(root)
    if cached is not None and cached[0] == key:
        return copy.deepcopy(cached[1])
    config = _parse_file_config(path, pyproject)
    _file_configs[root] = (key, config)
    return copy.deepcopy(config)


# Every way TOML can spell a key under tool.labledger: a [tool.labledger...] header or a
# tool.labledger... dotted key (with any spaces and quotes), keys in a [tool] table, or an
# inline `tool = {...}`. A pyproject.toml matching none has no labledger section.
_TOOL_SECTION = re.compile(
    r"""tool["']?\s*\.\s*["']?labledger|^\s*\[\s*["']?tool["']?\s*\]|^\s*["']?tool["']?\s*=""",
    re.MULTILINE,
)


def _parse_file_config(path: Path, pyproject: Path) -> dict[str, Any]:
    if not path.is_file() and not pyproject.is_file():
        return {}
    import tomllib

    try:
        if path.is_file():
            return dict(tomllib.loads(path.read_text()))
        text = pyproject.read_text()
        if not _TOOL_SECTION.search(text):
            return {}  # no [tool.labledger]: not worth importing tomllib (~15 ms) to find out
        data = tomllib.loads(text)
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


def load_settings(
    env: Mapping[str, str] | None = None, cwd: Path | None = None, *, uri: str | None = None
) -> Settings:
    """Build the settings from ``env`` (default ``os.environ``) and the project's config file.

    ``uri`` (as ``ll.init(uri=...)`` passes it) takes precedence over ``LABLEDGER_URI`` and
    the config file's ``uri``.
    """
    env = os.environ if env is None else env
    root = find_project_root(cwd)
    file_config = _read_file_config(root)

    folder_setting = env.get("LABLEDGER_DIR") or file_config.get("dir")
    folder = Path(folder_setting).expanduser() if folder_setting else root / DEFAULT_DIRNAME
    if not folder.is_absolute():
        folder = root / folder
    uri = uri or env.get("LABLEDGER_URI") or file_config.get("uri") or sqlite_uri(folder)
    if not isinstance(uri, str) or "://" not in uri:
        raise ConfigError(
            "store URI must look like sqlite:///path, postgresql://... or http(s)://host:port,"
            f" got {uri!r}"
        )
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
    artifact_uri = env.get("LABLEDGER_ARTIFACTS") or file_config.get("artifacts")
    if not artifact_uri and uri.startswith(("http://", "https://")):
        artifact_uri = uri  # a team server keeps the artifacts too
    if not artifact_uri:
        artifact_uri = str(folder / "artifacts")

    policy = file_config.get("policy", {})
    if not isinstance(policy, dict):
        raise ConfigError(f"[policy] in {CONFIG_FILE} must be a table, got {policy!r}")

    mode = env.get("LABLEDGER_MODE") or file_config.get("mode") or "online"
    if mode not in ("online", "offline"):
        raise ConfigError(f"LABLEDGER_MODE must be online or offline, got {mode!r}")
    token = env.get("LABLEDGER_TOKEN") or None
    if token is None and uri.startswith(("http://", "https://")):
        token = read_credential(uri, env)

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
        token=token,
        offline=mode == "offline",
        journal_max_bytes=int(_number(env, "LABLEDGER_JOURNAL_MAX_MB", 1024) * (1 << 20)),
        point_journal=env.get("LABLEDGER_POINT_JOURNAL", "1") != "0",
    )


# --- credentials written by `labledger login` ---------------------------------------------
def normalize_url(url: str) -> str:
    """``HTTP://Host:8000/`` → ``http://host:8000``: the key of a server in the credentials."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ConfigError(f"server URL must look like http(s)://host:port, got {url!r}")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash + path.rstrip('/') if path else ''}"


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("LABLEDGER_CREDENTIALS"):
        return Path(env["LABLEDGER_CREDENTIALS"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base).expanduser() / "labledger" / "credentials.toml"


def read_credentials(env: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Server URL → ``{"token", "user"}`` from the credentials file (empty when absent)."""
    path = credentials_path(env)
    if not path.is_file():
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc}") from exc
    servers = data.get("servers", {})
    return {
        url: {k: str(v) for k, v in entry.items()}
        for url, entry in servers.items()
        if isinstance(entry, dict)
    }


def read_credential(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """The token ``labledger login`` stored for the server at ``url``, if any."""
    try:
        key = normalize_url(url)
    except ConfigError:
        return None
    return read_credentials(env).get(key, {}).get("token")


def _toml_string(value: str) -> str:
    import json

    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_credential(
    url: str, token: str | None, user: str | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """Store (or, with ``token=None``, forget) the token for ``url``; the file is 0600."""
    path = credentials_path(env)
    servers = read_credentials(env)
    key = normalize_url(url)
    if token is None:
        servers.pop(key, None)
    else:
        servers[key] = {"token": token, **({"user": user} if user else {})}
    lines = ["# Written by `labledger login`: API tokens by server URL. Keep this file private."]
    for name, entry in sorted(servers.items()):
        lines.append(f"\n[servers.{_toml_string(name)}]")
        lines += [f"{k} = {_toml_string(v)}" for k, v in sorted(entry.items())]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


# --- `labledger server` --------------------------------------------------------------------
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one `labledger server` (the same in every worker process)."""

    db: str
    artifacts: str
    s3_endpoint_url: str | None = None
    s3_public_url: str | None = None  # the S3 endpoint clients reach, for presigned URLs
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    no_auth: bool = False
    crash_after: float = 30.0
    sweep_interval: float = 10.0
    presign_seconds: int = 3600


_SERVER_KEYS = {
    "db": ("LABLEDGER_SERVER_DB", str),
    "artifacts": ("LABLEDGER_SERVER_ARTIFACTS", str),
    "s3_endpoint_url": ("S3_ENDPOINT_URL", str),
    "s3_public_url": ("LABLEDGER_S3_PUBLIC_URL", str),
    "host": ("LABLEDGER_SERVER_HOST", str),
    "port": ("LABLEDGER_SERVER_PORT", int),
    "workers": ("LABLEDGER_SERVER_WORKERS", int),
    "crash_after": ("LABLEDGER_CRASH_AFTER", float),
    "no_auth": (None, bool),
    "sweep_interval": (None, float),
    "presign_seconds": (None, int),
}


def _server_file(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read server config {path}: {exc}") from exc
    section = data.get("server", data)
    unknown = set(section) - set(_SERVER_KEYS)
    if unknown:
        raise ConfigError(f"unknown keys in {path}: {', '.join(sorted(unknown))}")
    return dict(section)


def _convert(name: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("1", "true", "yes")
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"server setting {name} must be a {kind.__name__}, got {raw!r}") from None
    if kind in (int, float) and value < 0:
        raise ConfigError(f"server setting {name} must not be negative, got {raw!r}")
    return value


def load_server_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServerSettings:
    """Server settings from command-line ``flags`` (None: not given), then the environment,
    then the config file (``--config`` or LABLEDGER_SERVER_CONFIG), then defaults.

    Refuses ``no_auth`` unless the host is a loopback address, and a store that is not SQL.
    """
    env = os.environ if env is None else env
    path = config_file or (
        Path(env["LABLEDGER_SERVER_CONFIG"]) if env.get("LABLEDGER_SERVER_CONFIG") else None
    )
    from_file = _server_file(path) if path else {}
    values: dict[str, Any] = {}
    for name, (var, kind) in _SERVER_KEYS.items():
        raw = flags.get(name)
        if raw is None and var and env.get(var):
            raw = env[var]
        if raw is None:
            raw = from_file.get(name)
        if raw is not None:
            values[name] = _convert(name, raw, kind)
    db = values.get("db") or sqlite_uri(find_project_root() / DEFAULT_DIRNAME)
    if not db.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(f"--db must be sqlite:///path or postgresql://..., got {db!r}")
    values["db"] = db
    if not values.get("artifacts"):
        folder = Path(db.removeprefix("sqlite:///")).parent if db.startswith("sqlite") else None
        if folder is None:
            raise ConfigError("--artifacts is required with PostgreSQL: a folder or s3://...")
        values["artifacts"] = str(folder / "artifacts")
    settings = ServerSettings(**values)
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if settings.port > 65535:
        raise ConfigError(f"--port must be at most 65535, got {settings.port}")
    if settings.no_auth and not is_loopback(settings.host):
        raise ConfigError(
            f"--no-auth is allowed only on a loopback host (127.0.0.1, ::1, localhost), "
            f"not {settings.host!r}: anyone who can reach it could read and write every run"
        )
    return settings
