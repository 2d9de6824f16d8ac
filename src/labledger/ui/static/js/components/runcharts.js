// One run's metric charts, grouped by key prefix (system/* apart): each asks the server for as
// many points as the chart is wide, refetches the range on zoom, and accepts live points.
import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { lineChart } from "../chart.js";

export function prefixOf(key) {
  const i = key.indexOf("/");
  return i === -1 ? "" : key.slice(0, i);
}

function columns(series) {
  const values = series.values || [];
  return [series.steps || [], values, series.min || values, series.max || values];
}

/** Charts for `keys` of run `runId` in `root`. Returns {append(key, steps, values), has(key)}. */
export function runCharts(root, runId, keys, { log = false } = {}) {
  const charts = new Map();
  const groups = new Map();
  const points = () => Math.max(200, Math.min(4000, Math.floor((root.clientWidth || 1200) / 2)));

  function groupBox(prefix) {
    if (!groups.has(prefix)) {
      const grid = h("div.charts");
      const box = h("div.chart-group", { dataset: { prefix } }, h("h3", null, prefix || "metrics"), grid);
      root.append(box);
      groups.set(prefix, grid);
    }
    return groups.get(prefix);
  }

  function addChart(key, series) {
    const state = { zoomed: false, data: columns(series) };
    const chart = lineChart(groupBox(prefixOf(key)), {
      title: key,
      log,
      lines: [
        { label: key },
        { label: "min", hidden: true, color: "#2563eb" },
        { label: "max", hidden: true, color: "#2563eb", band: [1, 2] },
      ],
      data: state.data,
      onZoom: async (start, end) => {
        state.zoomed = start !== null;
        const params = { key, points: chart.width() };
        if (start !== null) Object.assign(params, { start: Math.floor(start), end: Math.ceil(end) });
        const next = await api.series(runId, params);
        if (start === null) state.data = columns(next);
        chart.setData(columns(next));
      },
    });
    chart.element.dataset.key = key;
    charts.set(key, { chart, state });
  }

  async function load() {
    if (!keys.length) {
      mount(root, h("p.muted", null, "No metrics logged."));
      return;
    }
    const all = await api.manySeries({ runs: [runId], keys, points: points() });
    const byKey = new Map(all.map((s) => [s.key, s]));
    for (const key of keys) addChart(key, byKey.get(key) || { steps: [], values: [] });
  }

  const ready = load();
  return {
    ready,
    has: (key) => charts.has(key),
    /** Live points: appended to the full-range data (a zoomed chart keeps its view). */
    append(key, steps, values) {
      if (!charts.has(key)) addChart(key, { steps: [], values: [] });
      const { chart, state } = charts.get(key);
      const [xs, ys, lo, hi] = state.data.map((c) => Array.from(c));
      for (let i = 0; i < steps.length; i += 1) {
        xs.push(steps[i]);
        ys.push(values[i]);
        lo.push(values[i]);
        hi.push(values[i]);
      }
      state.data = [xs, ys, lo, hi];
      if (!state.zoomed) chart.setData(state.data);
    },
  };
}
