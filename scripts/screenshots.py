"""Refresh the README's screenshots from the demo's data.

    python scripts/screenshots.py            # the full sweep (16 runs, about a minute)
    python scripts/screenshots.py --quick    # 8 runs of 3 epochs

Runs examples/digits_sweep.py into a temporary store, serves it with `labledger ui`, and
writes docs/img/runs.png, run.png and compare.png with headless Chromium (Playwright).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
LABLEDGER = "from labledger.cli.main import main; main()"  # the CLI of this source tree
SHOWN_COLUMNS = (
    "config.optimizer",
    "config.activation",
    "config.lr",
    "config.batch_size",
    "metrics.val/acc.last",
    "metrics.f1.last",
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
        env.update(LABLEDGER_DIR=str(Path(tmp) / "store"), LABLEDGER_SYSTEM_METRICS_INTERVAL="1")
        env["PYTHONUNBUFFERED"] = "1"  # the URL line must reach us before the server runs
        sweep = [sys.executable, str(ROOT / "examples" / "digits_sweep.py")]
        subprocess.run(sweep + (["--quick"] if args.quick else []), env=env, cwd=tmp, check=True)
        ui = [sys.executable, "-c", LABLEDGER, "ui", "--no-browser"]
        server = subprocess.Popen(ui, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp)
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            base = next(w for w in line.split() if w.startswith("http")).rstrip("/")
            query = "project=digits&sort=-metrics.f1.last"
            table = get(f"{base}/api/runs?{query}&limit=4")
            best = [row["id"] for row in table["rows"]]  # type: ignore[index]
            OUT.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 860})
                columns = ",".join(SHOWN_COLUMNS)
                page.goto(f"{base}/runs?{query}&columns={columns}&sel={','.join(best[:3])}")
                page.wait_for_selector(".vtable-row[data-id]")
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / "runs.png"))
                page.goto(f"{base}/run/{best[0]}")
                page.wait_for_selector(".chart[data-drawn]")
                page.wait_for_timeout(800)
                # the command panel holds this machine's paths (interpreter, working folder)
                command = page.locator("section[data-panel='command and seeds']")
                page.screenshot(path=str(OUT / "run.png"), full_page=True, mask=[command])
                page.goto(
                    f"{base}/compare?project=digits&filter=&group=config.optimizer&smooth=0.3"
                    "&keys=val/acc,val/loss,train/loss&pmetric=metrics.f1.last&sy=metrics.f1.last&sx=config.lr"
                )
                page.wait_for_selector("canvas.pc[data-lines]")
                page.wait_for_selector(".chart[data-drawn]")
                page.wait_for_timeout(800)
                page.screenshot(path=str(OUT / "compare.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    for name in ("runs", "run", "compare"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
