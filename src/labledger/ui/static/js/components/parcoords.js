// Parallel coordinates on a canvas: one vertical axis per config key and the metric last, one
// polyline per run coloured by the metric. Drag along an axis to brush a range; click an axis
// to clear its brush. Small, dependency-free, and its brushing state is plain data for the URL.
import { h } from "../dom.js";
import { heat, hiDpiCanvas, makeAxis } from "./axes.js";

const PAD_X = 60;
const PAD_TOP = 34;
const PAD_BOTTOM = 28;

/**
 * rows: [{id, name, values: {key: value}}]; keys: axis keys (metric last).
 * brushes: {key: [lo, hi]} in normalised 0..1 axis units. onBrush(brushes, selectedIds).
 */
export function parallelCoordinates(rows, keys, { brushes = {}, onBrush, height = 320 } = {}) {
  const canvas = h("canvas.pc", { role: "img", "aria-label": "parallel coordinates" });
  const wrap = h("div.pc-wrap", null, canvas);
  const axes = keys.map((k) => makeAxis(k, rows.map((r) => r.values[k])));
  const metricAxis = axes[axes.length - 1];
  let width = 800;
  let drag = null;
  const state = { brushes: { ...brushes } };

  const xOf = (i) => PAD_X + (axes.length === 1 ? 0 : (i * (width - 2 * PAD_X)) / (axes.length - 1));
  const yOf = (t) => PAD_TOP + (1 - t) * (height - PAD_TOP - PAD_BOTTOM);
  const tOf = (y) => Math.min(1, Math.max(0, 1 - (y - PAD_TOP) / (height - PAD_TOP - PAD_BOTTOM)));

  function inside(row) {
    return axes.every((axis) => {
      const b = state.brushes[axis.key];
      if (!b) return true;
      const t = axis.norm(row.values[axis.key]);
      return t !== null && t >= b[0] - 1e-9 && t <= b[1] + 1e-9;
    });
  }

  function selected() {
    return rows.filter(inside).map((r) => r.id);
  }

  function draw() {
    width = Math.max(300, wrap.clientWidth || 800);
    const ctx = hiDpiCanvas(canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    const chosen = new Set(selected());
    let drawn = 0;
    for (const pass of [false, true]) {
      for (const row of rows) {
        if (chosen.has(row.id) !== pass) continue;
        ctx.beginPath();
        let started = false;
        axes.forEach((axis, i) => {
          const t = axis.norm(row.values[axis.key]);
          if (t === null) {
            started = false;
            return;
          }
          const x = xOf(i);
          const y = yOf(t);
          if (started) ctx.lineTo(x, y);
          else ctx.moveTo(x, y);
          started = true;
        });
        ctx.strokeStyle = pass ? heat(metricAxis.norm(row.values[metricAxis.key])) : "rgba(160,160,160,0.25)";
        ctx.lineWidth = pass ? 1.6 : 1;
        ctx.stroke();
        drawn += pass ? 1 : 0;
      }
    }
    ctx.font = "11px ui-monospace, monospace";
    axes.forEach((axis, i) => {
      const x = xOf(i);
      ctx.strokeStyle = "#374151";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, yOf(0));
      ctx.lineTo(x, yOf(1));
      ctx.stroke();
      ctx.fillStyle = "#111827";
      ctx.textAlign = "center";
      const label = axis.key.length > 22 ? `${axis.key.slice(0, 21)}…` : axis.key;
      ctx.fillText(label, x, 14);
      ctx.fillStyle = "#6b7280";
      const ticks = axis.ticks();
      const every = Math.ceil(ticks.length / 12);
      ticks.forEach(([t, text], j) => {
        if (j % every) return;
        ctx.textAlign = "right";
        ctx.fillText(String(text).slice(0, 12), x - 4, yOf(t) + 4);
      });
      const b = state.brushes[axis.key];
      if (b) {
        ctx.fillStyle = "rgba(37, 99, 235, 0.18)";
        ctx.strokeStyle = "#2563eb";
        ctx.fillRect(x - 7, yOf(b[1]), 14, yOf(b[0]) - yOf(b[1]));
        ctx.strokeRect(x - 7, yOf(b[1]), 14, yOf(b[0]) - yOf(b[1]));
      }
    });
    canvas.dataset.lines = String(drawn);
    canvas.dataset.axes = String(axes.length);
  }

  function axisAt(x) {
    let best = -1;
    axes.forEach((_, i) => {
      if (Math.abs(xOf(i) - x) < 14) best = i;
    });
    return best;
  }

  const local = (e) => {
    const rect = canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  };
  canvas.addEventListener("mousedown", (e) => {
    const [x, y] = local(e);
    const i = axisAt(x);
    if (i === -1) return;
    drag = { key: axes[i].key, t0: tOf(y), moved: false };
    e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const [, y] = local(e);
    const t = tOf(y);
    if (Math.abs(t - drag.t0) > 0.01) drag.moved = true;
    if (drag.moved) {
      state.brushes[drag.key] = [Math.min(drag.t0, t), Math.max(drag.t0, t)];
      draw();
    }
  });
  window.addEventListener("mouseup", () => {
    if (!drag) return;
    if (!drag.moved) delete state.brushes[drag.key];
    drag = null;
    draw();
    if (onBrush) onBrush({ ...state.brushes }, selected());
  });
  new ResizeObserver(() => draw()).observe(wrap);
  requestAnimationFrame(draw);
  return { element: wrap, selected, draw };
}
