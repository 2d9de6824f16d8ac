"""The self-contained HTML report: one file, CSS, SVG charts, a little JS and the data inline.

Nothing is fetched: a Content-Security-Policy forbids every request and allows only the one
inline script, by hash. User text is escaped everywhere; the embedded JSON escapes ``<``,
``>`` and ``&`` so it cannot close its ``<script>`` element.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from labledger.cli.report_svg import Interval, Line, colour, esc, interval_chart, line_chart

CSS = """
:root { --fg:#1d2330; --muted:#667085; --line:#d9dee7; --bg:#fff; --pass:#2e7d32;
        --warn:#b26a00; --fail:#c62828; --accent:#4269d0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg);
       margin: 0 auto; padding: 24px; max-width: 1220px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.muted, .tick { color: var(--muted); fill: var(--muted); font-size: 11px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; white-space: nowrap; } td.num { text-align: right;
         font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, monospace; }
.pass { color: var(--pass); } .warn { color: var(--warn); } .fail { color: var(--fail); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card h3 { font-size: 14px; margin: 0 0 6px; overflow-wrap: anywhere; }
svg { width: 100%; height: auto; }
svg.intervals { max-width: 640px; }
svg .plot { fill: none; stroke: var(--line); }
svg .grid { stroke: var(--line); stroke-dasharray: 2 3; }
svg .run polyline { fill: none; stroke-width: 1.6; } svg .zero { stroke: var(--muted); }
svg .ci { stroke: var(--muted); stroke-width: 3; } svg .ci.strong { stroke: var(--accent); }
svg .dot { fill: var(--muted); } svg .dot.strong { fill: var(--accent); }
svg .label { font-size: 12px; fill: var(--fg); } svg .label.strong { font-weight: 600; }
body.focus svg .run { opacity: .12; } body.focus svg .run.on { opacity: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0 12px; }
.legend button { border: 0; background: none; cursor: pointer; font: inherit; padding: 0;
                 color: var(--fg); } .legend button.on { font-weight: 700; }
.swatch { display: inline-block; width: 12px; height: 3px; margin-right: 5px;
          vertical-align: middle; }
.verdict { font-size: 16px; font-weight: 600; margin: 8px 0; }
.verdict.real { color: var(--pass); } .verdict.noise { color: var(--warn); }
.verdict.insufficient { color: var(--fail); }
.warning { border-left: 4px solid var(--warn); padding: 6px 10px; background: #fff7e6; }
.method { color: var(--muted); font-size: 12px; max-width: 900px; }
"""

# Clicking a run in the legend fades the other runs' curves; clicking again shows all.
SCRIPT = """
document.querySelectorAll('.legend button').forEach(function (b) {
  b.addEventListener('click', function () {
    var on = !b.classList.contains('on');
    document.querySelectorAll('.legend button').forEach(function (o) { o.classList.remove('on'); });
    document.querySelectorAll('svg .run').forEach(function (g) { g.classList.remove('on'); });
    document.body.classList.toggle('focus', on);
    if (on) {
      b.classList.add('on');
      document.querySelectorAll('svg .run-' + b.dataset.run).forEach(function (g) {
        g.classList.add('on');
      });
    }
  });
});
"""


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>`` can appear."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds)) + " UTC"


def _runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    config_keys = sorted({k for r in runs for k in r["config"]})
    metric_keys = sorted({k for r in runs for k in r["metrics"]})
    head = ["", "run", "name", "project", "status", "created", "fingerprint", "check"]
    head += [f"config.{k}" for k in config_keys] + list(metric_keys)
    rows = []
    for i, run in enumerate(runs):
        check = run["check"]
        problems = "; ".join(
            f"{item['name']}: {item['message']}"
            for item in check["items"]
            if item["status"] != "pass"
        )
        cells = [
            f'<td><span class="swatch" style="background:{colour(i)}"></span></td>',
            f"<td><code>{esc(run['id'])}</code></td>",
            f"<td>{esc(run['name'])}</td>",
            f"<td>{esc(run['project'])}</td>",
            f"<td>{esc(run['status'])}</td>",
            f"<td>{esc(_when(run['created_at']))}</td>",
            f"<td><code>{esc(run['fingerprint'] or '—')}</code></td>",
            f'<td class="{esc(check["verdict"])}" title="{esc(problems)}">'
            f"{esc(check['verdict'].upper())} {esc(check['summary'])}</td>",
        ]
        cells += [f"<td>{esc(_fmt(run['config'].get(k)))}</td>" for k in config_keys]
        cells += [f'<td class="num">{esc(_fmt(run["metrics"].get(k)))}</td>' for k in metric_keys]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _check_details(runs: Sequence[Mapping[str, Any]]) -> str:
    blocks = []
    for run in runs:
        items = "".join(
            f'<tr><td class="{esc(item["status"])}">{esc(item["status"].upper())}</td>'
            f"<td>{esc(item['name'])}</td><td>{esc(item['message'])}</td></tr>"
            for item in run["check"]["items"]
        )
        blocks.append(
            f"<details><summary><code>{esc(run['id'])}</code> {esc(run['name'])}: "
            f'<span class="{esc(run["check"]["verdict"])}">{esc(run["check"]["verdict"].upper())}'
            f"</span></summary><table>{items}</table></details>"
        )
    return "".join(blocks)


def _charts(
    runs: Sequence[Mapping[str, Any]], series: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str:
    index = {run["id"]: i for i, run in enumerate(runs)}
    names = {run["id"]: f"{run['name']} ({run['id']})" for run in runs}
    legend = "".join(
        f'<button type="button" data-run="{i}"><span class="swatch" style="background:{colour(i)}">'
        f"</span>{esc(names[run['id']])}</button>"
        for i, run in enumerate(runs)
    )
    cards = []
    for key, curves in series.items():
        lines = [
            Line(names[c["run"]], c["steps"], c["values"], colour(index[c["run"]])) for c in curves
        ]
        cards.append(f'<div class="card"><h3>{esc(key)}</h3>{line_chart(key, lines)}</div>')
    if not cards:
        return '<p class="muted">No metric curves recorded.</p>'
    return f'<div class="legend">{legend}</div><div class="charts">{"".join(cards)}</div>'


def _importance(data: Mapping[str, Any] | None) -> str:
    if data is None:
        return '<p class="muted">Pass --metric to add parameter importance.</p>'
    if "error" in data:
        return f'<p class="muted">Not computed: {esc(data["error"])}</p>'
    keys = data["keys"]
    parts = [f'<p class="muted">{esc(data["metric"])} over {esc(data["n_runs"])} runs</p>']
    if data.get("warning"):
        parts.append(f'<p class="warning">{esc(data["warning"])}</p>')
    rows = [
        Interval(
            k["key"],
            k["importance"],
            *_bounds(k["importance_ci"]),
            bool(k["importance_ci"] and k["importance_ci"][0] > 0),
        )
        for k in keys
    ]
    if rows:
        parts.append("<h3>Importance (held-out permutation, 95% interval)</h3>")
        parts.append(interval_chart(rows))
    body = "".join(
        f"<tr><td>{esc(k['key'])}</td><td>{esc(k['kind'])}</td>"
        f'<td class="num">{esc(_fmt(k["importance"]))}</td>'
        f'<td class="num">{esc(_ci(k["importance_ci"]))}</td>'
        f'<td class="num">{esc(_fmt(k["correlation"]))}</td>'
        f'<td class="num">{esc(_ci(k["correlation_ci"]))}</td></tr>'
        for k in keys
    )
    parts.append(
        "<table><thead><tr><th>key</th><th>kind</th><th>importance</th><th>95% CI</th>"
        f"<th>correlation</th><th>95% CI</th></tr></thead><tbody>{body}</tbody></table>"
    )
    parts.append(f'<p class="method">{esc(data["method"])}</p>')
    return "".join(parts)


def _bounds(ci: Sequence[float] | None) -> tuple[float | None, float | None]:
    return (ci[0], ci[1]) if ci else (None, None)


def _ci(ci: Sequence[float] | None) -> str:
    return "—" if not ci else f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def _significance(data: Mapping[str, Any] | None) -> str:
    if data is None:
        return '<p class="muted">Pass --metric to add the comparison.</p>'
    if "error" in data:
        return f'<p class="muted">Not computed: {esc(data["error"])}</p>'
    rows = [
        Interval(
            f"{g['name']} (n={g['n']})", g["mean"], *_bounds(g["ci"]), g["name"] == data["best"]
        )
        for g in data["groups"]
    ]
    by = data["by"] or "configuration (seeds ignored)"
    return (
        f'<p class="verdict {esc(data["verdict"])}">{esc(data["verdict"].upper())}: '
        f"{esc(data['sentence'])}</p>"
        f'<p class="muted">{esc(data["metric"])} by {esc(by)}; mean and 95% interval per group</p>'
        f"{interval_chart(rows, zero=False)}"
        f'<p class="method">{esc(data["method"])}</p>'
    )


def render_report(data: Mapping[str, Any]) -> str:
    """The whole HTML document for ``data`` (see ``labledger.cli.report.collect``)."""
    runs = data["runs"]
    title = data["title"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(_csp())}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="muted">{esc(len(runs))} runs · generated {esc(_when(data["generated_at"]))} by labledger \
{esc(data["version"])} · store {esc(data["store"])}</p>
<h2>Runs</h2>
{_runs_table(runs)}
<h2>Metrics</h2>
{_charts(runs, data["series"])}
<h2>Is the difference real?</h2>
{_significance(data["significance"])}
<h2>Parameter importance</h2>
{_importance(data["importance"])}
<h2>Reproducibility checks</h2>
{_check_details(runs)}
<script type="application/json" id="labledger-data">{script_json(data)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
