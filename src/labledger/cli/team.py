"""Team server accounts from the command line: ``labledger login``, ``token``, ``user``,
``project``.

Every command talks to a running server over HTTP with the caller's token (``--server URL``,
else LABLEDGER_URI / LABLEDGER_SERVER_URL; the token from LABLEDGER_TOKEN or the credentials
file). ``--db URI`` works on the database directly instead, for bootstrap: the first admin is
``labledger user add NAME --admin --db postgresql://...``, which prints their token once.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from labledger.cli.common import user_errors
from labledger.cli.team_client import AdminClient, DbAdmin, HttpAdmin, server_url
from labledger.config import load_settings, normalize_url, read_credential, write_credential
from labledger.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def target_options(fn: F) -> F:
    """``--server URL`` or ``--db URI`` (with ``--user`` naming who acts, for tokens)."""
    fn = click.option("--db", help="Work on this database directly (bootstrap, recovery).")(fn)
    fn = click.option("--server", "server", help="Team server URL (default: LABLEDGER_URI).")(fn)
    return fn


@contextlib.contextmanager
def admin_client(
    server: str | None, db: str | None, as_user: str | None = None
) -> Iterator[AdminClient]:
    if db:
        client = DbAdmin(db, as_user)
        try:
            yield client
        finally:
            client.close()
        return
    settings = load_settings()
    url = server_url(settings, server)
    token = settings.token
    if settings.uri.startswith(("http://", "https://")) and normalize_url(settings.uri) != url:
        token = None  # that token is for another server
    yield HttpAdmin(url, token or read_credential(url))


def _print_token(token: str) -> None:
    click.echo(token)
    click.echo(
        "This token is shown once: store it (e.g. `labledger login URL --token ...`).", err=True
    )


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


# --- login / logout / whoami ---------------------------------------------------------------
@click.command("login")
@click.argument("url")
@click.option("--user", "user", help="User name (prompted for a password).")
@click.option("--token", help="Store this existing token instead of logging in.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@user_errors
def login_command(url: str, user: str | None, token: str | None, password_stdin: bool) -> None:
    """Log into a team server; the token goes to ~/.config/labledger/credentials.toml (0600).

    Afterwards LABLEDGER_URI=URL (or `ll.init(uri=URL)`) and the commands here use it.
    """
    url = normalize_url(url)
    if token is None:
        if not user:
            user = click.prompt("User")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = str(click.prompt("Password", hide_input=True))
        issued = HttpAdmin(url, None).login(user, password, f"cli@{socket.gethostname()}"[:100])
        token = str(issued["token"])
    me = HttpAdmin(url, token).whoami()
    path = write_credential(url, token, me["user"])
    click.echo(f"logged into {url} as {me['user']}; token saved in {path}")


@click.command("logout")
@click.argument("url")
@user_errors
def logout_command(url: str) -> None:
    """Revoke the stored token for URL and forget it."""
    url = normalize_url(url)
    token = read_credential(url)
    if token is None:
        raise ConfigError(f"not logged into {url}")
    with contextlib.suppress(Exception):
        HttpAdmin(url, token).revoke_token(token.split("_")[1])
    write_credential(url, None)
    click.echo(f"logged out of {url}")


@click.command("whoami")
@target_options
@click.option("--user", "as_user", help="With --db: the user to show.")
@user_errors
def whoami_command(server: str | None, db: str | None, as_user: str | None) -> None:
    """Who the stored token belongs to, and their roles."""
    with admin_client(server, db, as_user) as client:
        me = client.whoami()
    role = "server admin" if me["admin"] else "user"
    click.echo(f"{me['user']} ({role})")
    for project, project_role in sorted((me.get("projects") or {}).items()):
        click.echo(f"  {project}: {project_role}")


# --- tokens --------------------------------------------------------------------------------
@click.group("token")
def token_group() -> None:
    """Your API tokens on the team server."""


@token_group.command("create")
@click.argument("name")
@click.option("--expires-days", type=float, help="Expire after this many days.")
@target_options
@click.option("--user", "as_user", help="With --db: whose token.")
@user_errors
def token_create(
    name: str, expires_days: float | None, server: str | None, db: str | None, as_user: str | None
) -> None:
    """Create a token (printed once)."""
    with admin_client(server, db, as_user) as client:
        created = client.create_token(name, expires_days)
    _print_token(str(created["token"]))


@token_group.command("list")
@click.option("--all", "everyone", is_flag=True, help="Everyone's tokens (server admins).")
@click.option("--json", "as_json", is_flag=True)
@target_options
@click.option("--user", "as_user", help="With --db: whose tokens.")
@user_errors
def token_list(
    everyone: bool, as_json: bool, server: str | None, db: str | None, as_user: str | None
) -> None:
    """List tokens (never their secrets)."""
    with admin_client(server, db, as_user) as client:
        tokens = client.list_tokens(everyone)
    if as_json:
        click.echo(json.dumps(tokens, indent=2))
        return
    for t in tokens:
        state = "revoked" if t["revoked"] else "active"
        if not t["revoked"] and t["expires_at"] and t["expires_at"] < time.time():
            state = "expired"
        click.echo(
            f"{t['id']}  {t['user']:<12} {t['name']:<24} {state:<8} "
            f"created {_when(t['created_at'])}  last used {_when(t['last_used_at'])}  "
            f"expires {_when(t['expires_at'])}"
        )


@token_group.command("revoke")
@click.argument("token_id")
@target_options
@user_errors
def token_revoke(token_id: str, server: str | None, db: str | None) -> None:
    """Revoke a token by its id (the 12 hex digits after `ll_`)."""
    with admin_client(server, db) as client:
        client.revoke_token(token_id)
    click.echo(f"revoked {token_id}")


# --- users ---------------------------------------------------------------------------------
@click.group("user")
def user_group() -> None:
    """Users of the team server (server admins)."""


@user_group.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make them a server admin.")
@click.option("--password", "ask_password", is_flag=True, help="Prompt for a UI password.")
@click.option("--password-stdin", is_flag=True, help="Read the UI password from stdin.")
@click.option("--no-token", is_flag=True, help="Do not create a first API token.")
@target_options
@user_errors
def user_add(
    name: str,
    admin: bool,
    ask_password: bool,
    password_stdin: bool,
    no_token: bool,
    server: str | None,
    db: str | None,
) -> None:
    """Add a user and print their first API token (once)."""
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n") or None
    elif ask_password:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    with admin_client(server, db) as client:
        created = client.add_user(
            name, admin=admin, password=password, token_name=None if no_token else "first token"
        )
    click.echo(f"added {'server admin' if admin else 'user'} {name}", err=True)
    if created.get("token"):
        _print_token(str(created["token"]))


@user_group.command("list")
@target_options
@user_errors
def user_list(server: str | None, db: str | None) -> None:
    """List users."""
    with admin_client(server, db) as client:
        for u in client.list_users():
            flags = ", ".join(
                f for f, on in (("admin", u["admin"]), ("disabled", u["disabled"])) if on
            )
            click.echo(f"{u['name']}{f'  ({flags})' if flags else ''}")


# --- projects ------------------------------------------------------------------------------
@click.group("project")
def project_group() -> None:
    """Projects and their members on the team server."""


@project_group.command("add")
@click.argument("name")
@target_options
@user_errors
def project_add(name: str, server: str | None, db: str | None) -> None:
    """Register a project (server admins)."""
    with admin_client(server, db) as client:
        client.add_project(name)
    click.echo(f"project {name} ready")


@project_group.command("grant")
@click.argument("project")
@click.argument("user")
@click.argument("role", type=click.Choice(["viewer", "writer", "admin", "none"]))
@target_options
@user_errors
def project_grant(project: str, user: str, role: str, server: str | None, db: str | None) -> None:
    """Give USER ROLE in PROJECT (`none` removes them)."""
    with admin_client(server, db) as client:
        client.grant(project, user, None if role == "none" else role)
    click.echo(
        f"{user} is {role} in {project}" if role != "none" else f"{user} removed from {project}"
    )


@project_group.command("list")
@target_options
@user_errors
def project_list(server: str | None, db: str | None) -> None:
    """Registered projects and their members."""
    with admin_client(server, db) as client:
        for p in client.list_projects():
            members = ", ".join(f"{u}:{r}" for u, r in sorted(p["members"].items()))
            click.echo(f"{p['name']}  {members or '(no members)'}")
