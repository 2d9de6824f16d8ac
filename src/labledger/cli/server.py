"""``labledger server`` (the team server) and ``labledger db upgrade``."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click

from labledger.cli.common import user_errors
from labledger.config import ServerSettings, load_server_settings


def check_database(db: str) -> str:
    """Open (creating or upgrading) the database once; refuse a schema newer than ours."""
    from labledger.store import open_store
    from labledger.store.migrate import HEAD_REVISION

    open_store(db).close()
    return HEAD_REVISION


def serve(settings: ServerSettings, *, access_log: bool = False) -> None:
    """Bind, print the address, and serve with ``settings.workers`` processes."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from labledger.server.team import build_team_app

    config = uvicorn.Config(
        functools.partial(build_team_app, settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=access_log,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
        log_level="info",
    )
    sock = config.bind_socket()
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    auth = "NO AUTH (loopback only)" if settings.no_auth else "token auth"
    click.echo(
        f"labledger server listening on http://{shown}:{port} "
        f"({settings.workers} worker(s), {auth}; db {_redact(settings.db)}, "
        f"artifacts {settings.artifacts})",
    )
    sys.stdout.flush()
    if settings.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def _redact(uri: str) -> str:
    """Hide a password in ``postgresql://user:password@host/db``."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return uri


@click.command("server")
@click.option("--db", help="Database: sqlite:///path or postgresql://user@host/db.")
@click.option("--artifacts", help="Artifact storage: a folder or s3://bucket/prefix.")
@click.option("--s3-endpoint-url", help="Endpoint of an S3-compatible store (MinIO, Ceph...).")
@click.option(
    "--s3-public-url", help="S3 endpoint clients reach, if not --s3-endpoint-url (presigning)."
)
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000; 0 picks a free one).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option(
    "--no-auth",
    is_flag=True,
    default=None,
    help="Serve without tokens, everyone admin; refused unless the host is loopback.",
)
@click.option("--crash-after", type=float, help="Seconds without heartbeat before a run crashed.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path, exists=True),
    help="TOML file with these settings (a [server] table).",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@user_errors
def server_command(config_file: Path | None, access_log: bool, **flags: Any) -> None:
    """Run the team server: HTTP API and UI over PostgreSQL (or SQLite) and S3 (or a folder).

    Stateless: run several (--workers, or on several machines) against one database and one
    bucket behind any load balancer. Settings come from flags, then LABLEDGER_SERVER_* and
    S3_ENDPOINT_URL, then --config / LABLEDGER_SERVER_CONFIG.

    \b
    Examples:
      labledger server --db postgresql://ll@db/labledger --artifacts s3://ml/labledger \\
          --host 0.0.0.0 --port 8000 --workers 4
      labledger user add alice --admin --db postgresql://ll@db/labledger  # first admin
    """
    settings = load_server_settings(flags, config_file=config_file)
    check_database(settings.db)
    serve(settings, access_log=access_log)


@click.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@click.option("--db", help="Database: sqlite:///path or postgresql://... (or LABLEDGER_SERVER_DB).")
@user_errors
def db_upgrade(db: str | None) -> None:
    """Create the schema or bring it to this version's head (refuses a newer schema)."""
    db = load_server_settings({"db": db, "artifacts": "-"}).db
    revision = check_database(db)
    click.echo(f"database {_redact(db)} is at schema revision {revision}")
