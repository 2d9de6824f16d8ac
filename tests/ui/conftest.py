"""Browser tests: a real server process over a store filled through the SDK, and headless
Chromium driven by Playwright. Every test here is marked ``ui``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROJECT = "uitest"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.ui)
            item.add_marker(pytest.mark.xdist_group("ui"))


def store_env(store_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env.update(
        LABLEDGER_DIR=str(store_dir),
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        LABLEDGER_STRICT="1",
        PYTHONPATH=os.pathsep.join([str(HERE.parents[1] / "src"), env.get("PYTHONPATH", "")]),
    )
    return env


@dataclass
class Server:
    url: str
    store_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]

    def get(self, path: str, **params: Any) -> Any:
        return httpx.get(self.url + path, params=params, timeout=30).json()


def start_server(store_dir: Path, env: dict[str, str]) -> Server:
    uri = f"sqlite:///{store_dir / 'labledger.db'}"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "serve.py"), uri],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=store_dir.parent,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError("the UI server did not start")
    return Server(url, store_dir, env, process)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per worker over the sweep logged by fill_store.py."""
    pytest.importorskip("playwright")
    root = tmp_path_factory.mktemp("ui")
    store_dir = root / "store"
    env = store_env(store_dir)
    subprocess.run(
        [sys.executable, str(HERE / "fill_store.py"), PROJECT],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
        timeout=300,
    )
    srv = start_server(store_dir, env)
    yield srv
    srv.process.terminate()
    srv.process.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page plus what it reported: uncaught errors, console errors and dialogs."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def watched(chromium: Any) -> Iterator[Watched]:
    # bypass_csp: the tests poll with evaluated expressions, and the malicious-name test must
    # show that escaping, not the page's CSP, keeps user text inert.
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    watched = Watched(page)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))

    def on_console(msg: Any) -> None:
        # A 4xx the page handles (a bad filter) is logged by the browser itself: not an error.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            watched.errors.append(msg.text)

    page.on("console", on_console)

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.set_default_timeout(15_000)
    yield watched
    context.close()


@pytest.fixture
def ui_page(watched: Watched) -> Iterator[Any]:
    """A page that must finish without uncaught errors or dialogs."""
    yield watched.page
    assert watched.dialogs == []
    assert watched.errors == []


# Count the canvas pixels close to a colour (the chart's line colour): proof that it drew.
COLOURED_PIXELS = """([selector, rgb]) => {
  let total = 0;
  for (const canvas of document.querySelectorAll(selector)) {
    const ctx = canvas.getContext("2d");
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const near = Math.abs(data[i] - rgb[0]) < 40 && Math.abs(data[i + 1] - rgb[1]) < 40
        && Math.abs(data[i + 2] - rgb[2]) < 40;
      if (data[i + 3] > 100 && near) total += 1;
    }
  }
  return total;
}"""
# The first series colour of the chart wrapper's palette (#2563eb).
FIRST_SERIES_RGB = [37, 99, 235]


def coloured_pixels(page: Any, selector: str, rgb: list[int] = FIRST_SERIES_RGB) -> int:
    return int(page.evaluate(COLOURED_PIXELS, [selector, rgb]))


def drawn_pixels(page: Any, selector: str) -> int:
    """Non-transparent pixels of the canvases matching selector."""
    return int(
        page.evaluate(
            """(selector) => {
              let total = 0;
              for (const canvas of document.querySelectorAll(selector)) {
                const ctx = canvas.getContext("2d");
                const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) total += 1;
              }
              return total;
            }""",
            selector,
        )
    )
