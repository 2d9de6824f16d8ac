// Compare 2–N runs (or every run matching a filter): overlaid curves with smoothing, x axis and
// log scale, grouping with mean and min–max band; parallel coordinates with brushing; scatter;
// and the side-by-side diff of what differs.
import { api } from "../api.js";
import { errorBox, h, href, mount } from "../dom.js";
import { fmtValue } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { color, joinSeries, lineChart } from "../chart.js";
import { filterBox } from "../components/filterbox.js";
import { parallelCoordinates } from "../components/parcoords.js";
import { scatterPlot } from "../components/scatter.js";
import { aggregate, ema } from "../components/smoothing.js";
import { diffTable } from "./compare_diff.js";

const MAX_RUNS = 500;
const MAX_CURVES = 200; // runs drawn as curves (every run still shows in the other panels)
const SERIES_PER_REQUEST = 100;

function select(label, options, value, onChange) {
  const el = h("select", { "aria-label": label },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  el.addEventListener("change", () => onChange(el.value));
  return h("label", null, `${label} `, el);
}

function parseBrushes(text) {
  const out = {};
  for (const part of (text || "").split("|").filter(Boolean)) {
    const [key, lo, hi] = part.split("~");
    if (key && Number.isFinite(+lo) && Number.isFinite(+hi)) out[key] = [+lo, +hi];
  }
  return out;
}

const formatBrushes = (b) => Object.entries(b).map(([k, [lo, hi]]) => `${k}~${lo.toFixed(3)}~${hi.toFixed(3)}`).join("|");

// Keys with a slash (train/loss, val/acc) are usually curves; bare keys often summary numbers.
function defaultCurves(metricKeys) {
  const curves = metricKeys.filter((k) => k.includes("/"));
  return (curves.length ? curves : metricKeys).slice(0, 4);
}

export async function render(root) {
  const ids = url.getList("runs");
  let project = url.get("project");
  if (!project && ids.length) project = (await api.run(ids[0])).project;
  if (!project) {
    mount(root, h("p", null, "Select runs on a ", h("a", { href: "/" }, "project"), "'s runs table to compare them."));
    return;
  }
  setProject(project);
  const keys = await api.keys(project);
  const filterText = url.get("filter");
  const where = ids.length ? `run_id in (${ids.map((i) => `'${i.replaceAll("'", "")}'`).join(", ")})` : filterText;
  const configColumns = keys.config.map((k) => `config.${k}`);
  const metricKeys = keys.metrics.filter((k) => !k.startsWith("system/"));
  const columns = [...configColumns, ...metricKeys.map((k) => `metrics.${k}.last`)];

  const head = h("div");
  const body = h("div");
  mount(root, head, body);
  const filter = filterBox(filterText, (text) => {
    url.update({ filter: text, runs: [] });
    location.reload();
  });
  mount(head,
    h("h1", null, "Compare runs in ", project),
    ids.length ? h("p.muted", null, `${ids.length} selected runs · `, h("a", { href: href("/runs", { project, sel: ids }) }, "change selection"))
      : h("div.toolbar", null, filter.element));

  let result;
  try {
    result = await api.runs({ project, filter: where, columns, limit: MAX_RUNS, sort: "created_at" });
  } catch (error) {
    if (error.code === "invalid_filter") filter.setError(error);
    else mount(body, errorBox(error));
    return;
  }
  const rows = result.rows;
  if (rows.length === 0) {
    mount(body, h("p.note", null, "No runs to compare."));
    return;
  }
  if (result.total > rows.length) body.append(h("p.warning", null, `showing the first ${rows.length} of ${result.total} runs`));
  const varying = configColumns.filter((c) => new Set(rows.map((r) => JSON.stringify(r.values[c] ?? null))).size > 1);

  const settings = {
    keys: url.params().has("keys") ? url.getList("keys") : defaultCurves(metricKeys),
    smooth: Number(url.get("smooth", "0")),
    x: url.get("x", "step"),
    log: url.getBool("log"),
    group: url.get("group"),
    pmetric: url.get("pmetric", metricKeys[0] ? `metrics.${metricKeys[0]}.last` : ""),
    sx: url.get("sx", varying[0] || configColumns[0] || ""),
    sy: url.get("sy", metricKeys[0] ? `metrics.${metricKeys[0]}.last` : ""),
    brushes: parseBrushes(url.get("brush")),
  };
  let brushed = null; // Set of run ids inside the parallel-coordinates brushes, or null for all

  const curves = h("div.charts");
  const curveControls = h("div.toolbar");
  const pcBox = h("div");
  const scatterBox = h("div");
  const diffBox = h("div", null, h("p.muted", null, "loading…"));
  body.append(
    h("section.panel", null, h("h2", null, "Curves"), curveControls, curves),
    h("section.panel", null, h("h2", null, "Parallel coordinates"),
      h("p.muted", null, "Drag along an axis to keep only the runs in that range; click the axis to clear it. The selection filters the curves and the scatter."),
      pcBox),
    h("section.panel", null, h("h2", null, "Scatter"), scatterBox),
    h("section.panel", null, h("h2", null, "What differs"), diffBox));

  const allColumns = [...configColumns, ...metricKeys.map((k) => `metrics.${k}.last`)];
  const metricColumns = metricKeys.map((k) => [`metrics.${k}.last`, k]);

  function drawControls() {
    const keyBoxes = metricKeys.map((k) => {
      const box = h("input", { type: "checkbox", checked: settings.keys.includes(k) });
      box.addEventListener("change", () => {
        settings.keys = metricKeys.filter((m) => (m === k ? box.checked : settings.keys.includes(m)));
        url.update({ keys: settings.keys.join(",") || "," });
        drawCurves();
      });
      return h("label.mono", null, box, k);
    });
    const smooth = h("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: settings.smooth, "aria-label": "smoothing" });
    const smoothText = h("span.mono", null, settings.smooth.toFixed(2));
    smooth.addEventListener("input", () => {
      settings.smooth = Number(smooth.value);
      smoothText.textContent = settings.smooth.toFixed(2);
      url.update({ smooth: settings.smooth || "" });
      redrawCurves();
    });
    const log = h("input", { type: "checkbox", checked: settings.log, "aria-label": "log scale" });
    log.addEventListener("change", () => {
      settings.log = log.checked;
      url.update({ log: settings.log });
      redrawCurves();
    });
    mount(curveControls,
      h("span", null, keyBoxes),
      select("x", [["step", "step"], ["time", "wall time"], ["relative", "relative time"]], settings.x, (v) => {
        settings.x = v;
        url.update({ x: v === "step" ? "" : v });
        drawCurves().catch((e) => mount(curves, errorBox(e)));
      }),
      h("label", null, "smoothing ", smooth, smoothText),
      h("label", null, log, "log scale"),
      select("group by", [["", "none"], ...configColumns.map((c) => [c, c.slice(7)])], settings.group, (v) => {
        settings.group = v;
        url.update({ group: v });
        redrawCurves();
      }));
  }

  const fetched = new Map(); // key -> [{run, steps, values, times}]
  const charts = [];

  let fetchedWithTimes = settings.x !== "step";

  async function drawCurves() {
    const withTimes = settings.x !== "step";
    if (withTimes && !fetchedWithTimes) fetched.clear();
    fetchedWithTimes = fetchedWithTimes || withTimes;
    const wanted = settings.keys.filter((k) => !fetched.has(k));
    const points = Math.max(200, Math.floor((curves.clientWidth || 1000) / 2));
    const ids = rows.slice(0, MAX_CURVES).map((r) => r.id);
    for (const key of wanted) {
      const parts = [];
      for (let i = 0; i < ids.length; i += SERIES_PER_REQUEST) {
        const body = { runs: ids.slice(i, i + SERIES_PER_REQUEST), keys: [key], points, x: withTimes ? "time" : "step" };
        parts.push(api.manySeries(body));
      }
      fetched.set(key, (await Promise.all(parts)).flat());
    }
    redrawCurves();
  }

  function xsOf(s) {
    if (settings.x === "step") return s.steps;
    const times = s.times || [];
    if (settings.x === "time") return times;
    const t0 = times.length ? times[0] : 0;
    return times.map((t) => t - t0);
  }

  function redrawCurves() {
    for (const c of charts.splice(0)) c.destroy();
    mount(curves);
    const shown = rows.filter((r) => !brushed || brushed.has(r.id));
    const byId = new Map(shown.map((r, i) => [r.id, i]));
    for (const key of settings.keys) {
      const series = (fetched.get(key) || []).filter((s) => byId.has(s.run) && s.steps.length);
      if (!series.some((s) => s.steps.length > 1)) {
        curves.append(h("p.muted", null, `${key}: one value per run, no curve (see the scatter).`));
        continue;
      }
      const tables = series.map((s) => [Array.from(xsOf(s)), ema(Array.from(s.values), settings.smooth)]);
      let lines;
      let data;
      if (settings.group) {
        const groups = new Map();
        series.forEach((s, i) => {
          const row = shown[byId.get(s.run)];
          const g = fmtValue(row.values[settings.group] ?? null) || "(none)";
          if (!groups.has(g)) groups.set(g, []);
          groups.get(g).push(tables[i]);
        });
        const columnsOut = [];
        lines = [];
        [...groups.entries()].forEach(([g, list], i) => {
          const agg = aggregate(joinSeries(list));
          const base = lines.length;
          columnsOut.push([agg.xs, agg.mean], [agg.xs, agg.min], [agg.xs, agg.max]);
          lines.push({ label: `${g} (n=${list.length})`, color: color(i), width: 2 },
            { label: `${g} min`, hidden: true, color: color(i) },
            { label: `${g} max`, hidden: true, color: color(i), band: [base + 1, base + 2] });
        });
        data = joinSeries(columnsOut);
      } else {
        lines = series.map((s) => {
          const row = shown[byId.get(s.run)];
          return { label: row.name || row.id, color: color(rows.indexOf(row)) };
        });
        data = joinSeries(tables);
      }
      const box = h("div");
      curves.append(box);
      charts.push(lineChart(box, {
        title: key,
        xLabel: settings.x === "step" ? "step" : settings.x === "time" ? "" : "seconds",
        xTime: settings.x === "time",
        log: settings.log,
        lines,
        data,
      }));
    }
  }

  function drawParallel() {
    const axisKeys = [...(varying.length ? varying : configColumns).slice(0, 12), settings.pmetric].filter(Boolean);
    const pc = parallelCoordinates(rows, axisKeys, {
      brushes: settings.brushes,
      onBrush: (brushes, selectedIds) => {
        settings.brushes = brushes;
        brushed = Object.keys(brushes).length ? new Set(selectedIds) : null;
        url.update({ brush: formatBrushes(brushes) });
        selectedNote.textContent = brushed ? `${brushed.size} of ${rows.length} runs in the brushed ranges` : "";
        redrawCurves();
        drawScatter();
      },
    });
    const selectedNote = h("span.muted#brushed-count");
    if (Object.keys(settings.brushes).length) {
      brushed = new Set(pc.selected());
      selectedNote.textContent = `${brushed.size} of ${rows.length} runs in the brushed ranges`;
    }
    mount(pcBox,
      h("div.toolbar", null, select("metric", metricColumns, settings.pmetric, (v) => {
        settings.pmetric = v;
        url.update({ pmetric: v });
        drawParallel();
      }), selectedNote),
      pc.element);
  }

  function drawScatter() {
    mount(scatterBox,
      h("div.toolbar", null,
        select("x", allColumns.map((c) => [c, c]), settings.sx, (v) => {
          settings.sx = v;
          url.update({ sx: v });
          drawScatter();
        }),
        select("y", metricColumns, settings.sy, (v) => {
          settings.sy = v;
          url.update({ sy: v });
          drawScatter();
        })),
      scatterPlot(rows, settings.sx, settings.sy, { highlight: brushed }));
  }

  drawControls();
  drawParallel();
  drawScatter();
  drawCurves().catch((e) => mount(curves, errorBox(e)));
  const diffIds = rows.slice(0, 20).map((r) => r.id);
  if (diffIds.length >= 2) {
    api.diff(diffIds).then((d) => mount(diffBox, diffTable(d, rows)), (e) => mount(diffBox, errorBox(e)));
  } else mount(diffBox, h("p.muted", null, "Pick two or more runs to see what differs."));
}
