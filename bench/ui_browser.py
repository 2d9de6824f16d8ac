"""The web UI in headless Chromium, against `labledger ui` on a generated store.

    python bench/ui_browser.py              # 10,000 runs x 50 config x 20 metrics, 1M points
    python bench/ui_browser.py --runs 1000  # smaller
    python bench/ui_browser.py --store DIR  # reuse (or create) a populated store folder

Measures, each as the median of a few page loads:
- runs table: navigation start -> first rows painted (target <= 1 s);
- scrolling the table to its last row: the longest main-thread task (PerformanceObserver
  `longtask`; target: none > 100 ms) and the time to reach the end;
- a run page whose metric has 1,000,000 points: navigation -> chart drawn, and series response
  received -> chart drawn (target <= 300 ms); a drag-zoom -> redrawn at full resolution;
- live: `run.log` in a training process -> the point drawn in an open page (target p50 <= 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = "bench"
CHROMIUM = "/usr/bin/chromium"
LABLEDGER = "from labledger.cli.main import main; main()"  # the CLI of this source tree
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Registered before any page script: long tasks, and when the first table row appears.
INIT = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
} catch (e) {}
new MutationObserver((_, obs) => {
  if (!window.__firstRow && document.querySelector(".vtable-row[data-id]")) {
    window.__firstRow = performance.now();
    requestAnimationFrame(() => { window.__firstRowPainted = performance.now(); });
  }
  const chart = document.querySelector(".chart[data-drawn]");
  if (chart && !window.__chartDrawn) window.__chartDrawn = performance.now();
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def populate(store_dir: Path, runs: int, config_keys: int, metric_keys: int, points: int) -> str:
    """Write the runs through the Store interface (one create + one batch per run)."""
    from labledger.entities import RunRecord, RunStatus
    from labledger.store import open_store
    from labledger.store.base import MetricColumns, RunBatch

    store = open_store(f"sqlite:///{store_dir / 'labledger.db'}")
    rng = np.random.default_rng(0)
    now = time.time() - runs
    t0 = time.perf_counter()
    for i in range(runs):
        config = {
            f"p{k:02d}": float(rng.random()) if k % 3 else f"c{i % 7}" for k in range(config_keys)
        }
        record = RunRecord(
            run_id=f"r{i:07d}",
            project=PROJECT,
            name=f"run-{i}",
            status=RunStatus.FINISHED,
            created_at=now + i,
            ended_at=now + i + 30,
            config=config,
            tags=["bench"],
            host="bench-host",
        )
        store.create_run(record)
        metrics = {
            f"m{k:02d}": MetricColumns(
                np.array([0], dtype=np.int64), np.array([rng.random()]), np.array([now + i])
            )
            for k in range(metric_keys)
        }
        store.write_batch(record.run_id, RunBatch(metrics=metrics))
    t1 = time.perf_counter()
    series = RunRecord(run_id="series01", project=PROJECT, name="one-million", created_at=now)
    series.status = RunStatus.FINISHED
    series.ended_at = now + 100
    store.create_run(series)
    chunk = 100_000
    for start in range(0, points, chunk):
        steps = np.arange(start, min(points, start + chunk), dtype=np.int64)
        values = np.sin(steps / 5000.0) + rng.normal(0, 0.05, len(steps))
        values[steps % 250_000 == 7] = 5.0  # spikes the downsampling must keep
        store.write_metrics(
            series.run_id, {"loss": MetricColumns(steps, values, now + steps / 1000.0)}
        )
    store.close()
    print(
        f"populated {runs} runs in {t1 - t0:.1f} s, "
        f"{points} points in {time.perf_counter() - t1:.1f} s"
    )
    return series.run_id


def serve(store_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env["LABLEDGER_DIR"] = str(store_dir)
    env["PYTHONUNBUFFERED"] = "1"  # the URL line must reach us before the server runs
    proc = subprocess.Popen(
        [sys.executable, "-c", LABLEDGER, "ui", "--no-browser"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = next((w for w in line.split() if w.startswith("http")), "")
    if not url:
        proc.kill()
        raise SystemExit(f"labledger ui did not print its URL: {line!r}")
    return proc, url.rstrip("/")


def measure_table(browser: Any, url: str, repeats: int) -> dict[str, Any]:
    columns = "config.p00,config.p01,config.p02,config.p03,metrics.m00.last,metrics.m01.last"
    firsts = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.add_init_script(INIT)
        page.goto(f"{url}/runs?project={PROJECT}&columns={columns}&sort=-metrics.m00.last")
        page.wait_for_function("window.__firstRowPainted !== undefined", timeout=30_000)
        firsts.append(page.evaluate("window.__firstRowPainted"))
        context.close()
    # scroll to the end in screen-sized jumps, as a dragged scrollbar does
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.add_init_script(INIT)
    page.goto(f"{url}/runs?project={PROJECT}&columns={columns}&sort=-metrics.m00.last")
    page.wait_for_function("window.__firstRowPainted !== undefined", timeout=30_000)
    page.wait_for_timeout(300)
    page.evaluate("window.__longtasks = []")
    t0 = time.perf_counter()
    total = page.evaluate(
        """async () => {
          const box = document.querySelector(".vtable");
          const frame = () => new Promise((r) => requestAnimationFrame(r));
          let steps = 0;
          while (box.scrollTop + box.clientHeight < box.scrollHeight - 2) {
            box.scrollTop += box.clientHeight * 3;
            steps += 1;
            await frame();
          }
          return steps;
        }"""
    )
    last = int(page.evaluate("document.querySelector('.vtable-body').offsetHeight / 30")) - 1
    page.wait_for_selector(f".vtable-row[data-index='{last}'][data-id]", timeout=30_000)
    end_s = time.perf_counter() - t0
    tasks = page.evaluate("window.__longtasks")
    context.close()
    return {
        "first_rows_painted_ms": statistics.median(firsts),
        "first_rows_painted_all_ms": [round(f) for f in firsts],
        "scroll_steps": total,
        "scroll_to_end_s": end_s,
        "longest_task_ms": max(tasks, default=0.0),
        "long_tasks_over_100ms": sum(t > 100 for t in tasks),
        "long_tasks": len(tasks),
    }


def measure_chart(browser: Any, url: str, run_id: str, repeats: int) -> dict[str, Any]:
    drawn, after_response, zooms = [], [], []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.add_init_script(INIT)
        page.goto(f"{url}/run/{run_id}")
        page.wait_for_function("window.__chartDrawn !== undefined", timeout=30_000)
        at = page.evaluate("window.__chartDrawn")
        response_end = page.evaluate(
            """() => Math.max(...performance.getEntriesByType("resource")
                 .filter((e) => e.name.includes("/api/series")).map((e) => e.responseEnd))"""
        )
        drawn.append(at)
        after_response.append(at - response_end)
        # drag-select a tenth of the x range: the chart refetches that range and redraws
        chart = page.locator(".chart[data-key='loss'] .u-over")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        before = page.locator(".chart[data-key='loss']").get_attribute("data-drawn")
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + 20)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + 20, steps=4)
        t0 = page.evaluate("performance.now()")
        page.mouse.up()
        page.wait_for_function(
            f"""() => {{
              const el = document.querySelector(".chart[data-key='loss']");
              const zoomed = performance.getEntriesByType("resource")
                .some((e) => e.name.includes("start="));
              return el.dataset.drawn !== {json.dumps(before)} && zoomed;
            }}"""
        )
        page.wait_for_timeout(50)
        zoom_end = page.evaluate(
            """() => Number(document.querySelector(".chart[data-key='loss']").dataset.drawn)"""
        )
        zooms.append(zoom_end - t0)
        context.close()
    return {
        "navigation_to_chart_drawn_ms": statistics.median(drawn),
        "series_response_to_drawn_ms": statistics.median(after_response),
        "zoom_to_redrawn_ms": statistics.median(zooms),
    }


LIVE = """
import time
import labledger as ll
run = ll.init(project="bench-live", name="live", capture=False)
print(run.id, flush=True)
for step in range(%d):
    run.log({"live/t": time.time()}, step=step)
    time.sleep(0.25)
"""


def measure_live(browser: Any, url: str, store_dir: Path, samples: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env.update(LABLEDGER_DIR=str(store_dir), LABLEDGER_SYSTEM_METRICS_INTERVAL="0")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "live.py"
        script.write_text(textwrap.dedent(LIVE % (samples + 40)))
        proc = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp
        )
        try:
            assert proc.stdout is not None
            run_id = proc.stdout.readline().strip()
            time.sleep(0.6)
            context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            page = context.new_page()
            page.goto(f"{url}/run/{run_id}")
            page.wait_for_selector(".chart[data-key='live/t']", timeout=30_000)
            page.evaluate(
                """() => {
                  window.__lat = [];
                  const el = document.querySelector(".chart[data-key='live/t']");
                  new MutationObserver(() => {
                    const last = Number(el.dataset.last);
                    if (last) window.__lat.push(Date.now() / 1000 - last);
                  }).observe(el, { attributes: true, attributeFilter: ["data-points"] });
                }"""
            )
            page.wait_for_function(f"window.__lat.length >= {samples}", timeout=120_000)
            lat = page.evaluate("window.__lat")
            context.close()
        finally:
            proc.kill()
            proc.wait()
    lat_ms = sorted(x * 1000 for x in lat)
    return {
        "live_p50_ms": statistics.median(lat_ms),
        "live_p90_ms": lat_ms[int(len(lat_ms) * 0.9) - 1],
        "live_samples": len(lat_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--config-keys", type=int, default=50)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--live-samples", type=int, default=20)
    parser.add_argument("--store", type=Path, help="populated store folder to reuse or create")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        store_dir = args.store or Path(tmp) / "store"
        marker = store_dir / "bench-ui.json"
        if marker.exists():
            series_id = json.loads(marker.read_text())["series"]
        else:
            store_dir.mkdir(parents=True, exist_ok=True)
            series_id = populate(store_dir, args.runs, args.config_keys, args.metrics, args.points)
            marker.write_text(json.dumps({"series": series_id}))
        proc, url = serve(store_dir)
        results: dict[str, Any] = {"runs": args.runs, "points": args.points}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                results |= measure_table(browser, url, args.repeats)
                results |= measure_chart(browser, url, series_id, args.repeats)
                try:
                    results |= measure_live(browser, url, store_dir, args.live_samples)
                except Exception as exc:  # the live route may be missing on an older server
                    results["live_error"] = str(exc).splitlines()[0]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    for key, value in results.items():
        shown = f"{value:.1f}" if isinstance(value, float) else value
        print(f"{key:32} {shown}")


if __name__ == "__main__":
    main()
