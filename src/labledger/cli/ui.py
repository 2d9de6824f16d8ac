"""``labledger ui``: serve the web UI and its HTTP API for the current store."""

from __future__ import annotations

import ipaddress
import socket
import threading
import webbrowser
from urllib.parse import quote

import click

from labledger.cli.common import open_api, user_errors
from labledger.errors import MissingExtra


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--project", default=None, help="Open this project's runs table.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@user_errors
def ui_command(host: str, port: int, project: str | None, no_browser: bool) -> None:
    """Serve the web UI for the current store (Ctrl-C stops it).

    Listens on 127.0.0.1 by default, without authentication: anyone who can reach the
    address can read every run. Use `--host` only on a network you trust; a team should
    run `labledger server`, which checks tokens. The API is documented at /api/docs.

    \b
    Examples:
      labledger ui                       # a free port on 127.0.0.1, opens the browser
      labledger ui --port 8080 --no-browser
      labledger ui --project digits      # straight to the digits runs table
    """
    try:
        import uvicorn

        from labledger.server.app import create_app
    except ImportError as exc:
        raise MissingExtra(exc.name or "fastapi", "ui") from None

    api = open_api()
    app = create_app(api.store, settings=api.settings)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}/"
    if project:
        url += f"runs?project={quote(project)}"
    if not _is_loopback(host):
        click.echo(
            f"Warning: serving without authentication on {host}; "
            "anyone who can reach it can read every run.",
            err=True,
        )
    click.echo(f"labledger UI: {url}  (Ctrl-C to stop)", nl=True)
    # Open live streams would otherwise keep Ctrl-C waiting until every browser tab closes.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    if not no_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
