"""The login page in headless Chromium against a real team server: a page that needs a token
sends the browser to /login, a wrong password says so, the right one sets an HttpOnly session
cookie and returns to the page asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from labledger.store import auth_store, open_store
from tests.server.helpers import make_run
from tests.server.team import ServerProcess, cli_env, servers_fixture, start_server  # noqa: F401

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def test_login_page_sets_a_session_and_returns(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    db = f"sqlite:///{tmp_path / 'server' / 'labledger.db'}"
    store = open_store(db)
    auth = auth_store(store)
    auth.add_user("alice", password="alice-password")
    auth.grant("vision", "alice", "viewer")
    make_run(store, "vision", name="cat-detector")
    store.close()
    server = start_server(["--db", db], cli_env(tmp_path), tmp_path)
    servers.append(server)

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{server.url}/runs?project=vision")
            page.wait_for_url("**/login?next=*")
            page.fill("input[name=user]", "alice")
            page.fill("input[name=password]", "wrong")
            page.click("button[type=submit]")
            playwright.expect(page.locator("p.error")).to_contain_text(
                "wrong user name or password"
            )
            page.fill("input[name=password]", "alice-password")
            page.click("button[type=submit]")
            page.wait_for_url("**/runs?project=vision")
            playwright.expect(page.locator("body")).to_contain_text("cat-detector", timeout=15000)
            (cookie,) = [c for c in context.cookies() if c["name"] == "labledger_session"]
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Strict"
        finally:
            browser.close()
