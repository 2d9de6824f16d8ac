// The one wrapper around the time-series chart library (uPlot). Pages describe series and data;
// only this module knows uPlot's options, so the library can be swapped here alone.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h } from "./dom.js";

export const PALETTE = [
  "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
  "#4f46e5", "#65a30d", "#0d9488", "#7c3aed", "#b91c1c", "#15803d", "#c2410c", "#1d4ed8",
];
export const color = (i) => PALETTE[i % PALETTE.length];

function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/**
 * A line chart in `container`.
 * spec: {title, xLabel, xTime, log, height, lines: [{label, color, width, band: [loIdx, hiIdx]}],
 *        data: [xs, ...ys], onZoom(start, end)}
 * A line with `band` is drawn as a shaded area between two other lines (marked `hidden: true`).
 * onZoom is called with the selected x range, or (null, null) on double-click to reset.
 * Returns {setData(data, keepScale), setLog(on), width(), destroy()}.
 */
export function lineChart(container, spec) {
  const holder = h("div.chart", { dataset: { points: "0" } });
  if (spec.title) holder.append(h("div.chart-title", null, spec.title));
  const plotBox = h("div.chart-plot");
  holder.append(plotBox);
  container.append(holder);
  let plot = null;
  let data = spec.data;
  let log = !!spec.log;

  const width = () => Math.max(200, Math.floor(plotBox.clientWidth || container.clientWidth || 600));

  const visible = () => spec.lines.filter((l) => !l.hidden).length;

  function options() {
    const series = [{ label: spec.xLabel || "step" }];
    const bands = [];
    spec.lines.forEach((line, i) => {
      const stroke = line.color || color(i);
      if (line.hidden) {
        series.push({ label: line.label, stroke: fade(stroke, 0.25), width: 1, points: { show: false } });
      } else {
        series.push({
          label: line.label,
          stroke,
          width: line.width || 1.5,
          points: { show: false },
          spanGaps: true,
        });
      }
      if (line.band) {
        bands.push({ series: [line.band[1] + 1, line.band[0] + 1], fill: fade(stroke, 0.15) });
      }
    });
    return {
      width: width(),
      height: spec.height || 220,
      series,
      bands,
      legend: { show: spec.legend ?? (visible() > 1 && visible() <= 12) },
      scales: {
        x: { time: !!spec.xTime },
        y: log ? { distr: 3, log: 10 } : {},
      },
      axes: [{ label: spec.xLabel || undefined, size: 40 }, { size: 60 }],
      cursor: {
        drag: { x: true, y: false, setScale: true },
        bind: { dblclick: () => null },
      },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 2 || !spec.onZoom) return;
            const start = u.posToVal(u.select.left, "x");
            const end = u.posToVal(u.select.left + u.select.width, "x");
            spec.onZoom(start, end);
          },
        ],
        draw: [() => holder.setAttribute("data-drawn", String(performance.now()))],
      },
    };
  }

  function logSafe(values) {
    if (!log) return values;
    return values.map((column, i) => (i === 0 ? column : column.map((v) => (v > 0 ? v : null))));
  }

  function build() {
    if (plot) plot.destroy();
    plot = new uPlot(options(), logSafe(data), plotBox);
    const rows = plot.root.querySelectorAll(".u-legend .u-series");
    spec.lines.forEach((line, i) => {
      if (line.hidden && rows[i + 1]) rows[i + 1].style.display = "none";
    });
    plot.over.addEventListener("dblclick", () => {
      if (spec.onZoom) spec.onZoom(null, null);
      else plot.setData(logSafe(data), true);
    });
    mark();
  }

  // Attributes for tests and benchmarks: how many x values, and the last y of the first line.
  function mark() {
    const n = data[0]?.length || 0;
    holder.dataset.points = String(n);
    holder.dataset.last = n && data[1] ? String(data[1][n - 1]) : "";
  }
  build();

  const resize = new ResizeObserver(() => {
    if (plot && Math.abs(plot.width - width()) > 4) plot.setSize({ width: width(), height: plot.height });
  });
  resize.observe(plotBox);

  return {
    element: holder,
    width,
    setData(next, keepScale = false) {
      data = next;
      mark();
      plot.setData(logSafe(data), !keepScale);
    },
    setLog(on) {
      log = on;
      build();
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
      holder.remove();
    },
  };
}

/** Align several [xs, ys] tables on one sorted x axis (nulls where a run has no point). */
export function joinSeries(tables) {
  if (tables.length === 0) return [[]];
  return uPlot.join(tables);
}
