// Scatter of any key against a metric on a canvas; hover names the run, click opens it.
import { h } from "../dom.js";
import { fmtValue } from "../format.js";
import { hiDpiCanvas, makeAxis } from "./axes.js";

const PAD = { left: 70, right: 20, top: 16, bottom: 44 };

export function scatterPlot(rows, xKey, yKey, { height = 320, highlight = null } = {}) {
  const canvas = h("canvas.scatter", { role: "img", "aria-label": `scatter of ${yKey} against ${xKey}` });
  const tip = h("div.muted", { style: { minHeight: "1.4em" } });
  const wrap = h("div", null, canvas, tip);
  const xAxis = makeAxis(xKey, rows.map((r) => r.values[xKey]));
  const yAxis = makeAxis(yKey, rows.map((r) => r.values[yKey]));
  let points = [];

  function draw() {
    const width = Math.max(300, wrap.clientWidth || 700);
    const ctx = hiDpiCanvas(canvas, width, height);
    const px = (t) => PAD.left + t * (width - PAD.left - PAD.right);
    const py = (t) => PAD.top + (1 - t) * (height - PAD.top - PAD.bottom);
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = "#9ca3af";
    ctx.strokeRect(PAD.left, PAD.top, width - PAD.left - PAD.right, height - PAD.top - PAD.bottom);
    ctx.font = "11px ui-monospace, monospace";
    ctx.fillStyle = "#6b7280";
    ctx.textAlign = "center";
    for (const [t, label] of xAxis.ticks()) ctx.fillText(String(label).slice(0, 14), px(t), height - PAD.bottom + 14);
    ctx.fillText(xKey, (PAD.left + width - PAD.right) / 2, height - 8);
    ctx.textAlign = "right";
    for (const [t, label] of yAxis.ticks()) ctx.fillText(String(label).slice(0, 10), PAD.left - 4, py(t) + 4);
    ctx.save();
    ctx.translate(12, (PAD.top + height - PAD.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(yKey, 0, 0);
    ctx.restore();
    points = [];
    rows.forEach((row, i) => {
      const tx = xAxis.norm(row.values[xKey]);
      const ty = yAxis.norm(row.values[yKey]);
      if (tx === null || ty === null) return;
      const jitter = xAxis.numeric ? 0 : (((i * 7919) % 13) / 13 - 0.5) * 0.04;
      const x = px(Math.min(1, Math.max(0, tx + jitter)));
      const y = py(ty);
      const on = !highlight || highlight.has(row.id);
      ctx.beginPath();
      ctx.arc(x, y, on ? 4 : 3, 0, 2 * Math.PI);
      ctx.fillStyle = on ? "rgba(37, 99, 235, 0.8)" : "rgba(160, 160, 160, 0.4)";
      ctx.fill();
      points.push([x, y, row]);
    });
    canvas.dataset.points = String(points.length);
  }

  function nearest(e) {
    const rect = canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    let best = null;
    let dist = 100;
    for (const p of points) {
      const d = (p[0] - x) ** 2 + (p[1] - y) ** 2;
      if (d < dist) {
        dist = d;
        best = p[2];
      }
    }
    return best;
  }
  canvas.addEventListener("mousemove", (e) => {
    const row = nearest(e);
    tip.textContent = row ? `${row.name || row.id}: ${xKey} = ${fmtValue(row.values[xKey])}, ${yKey} = ${fmtValue(row.values[yKey])}` : "";
  });
  canvas.addEventListener("click", (e) => {
    const row = nearest(e);
    if (row) location.href = `/run/${encodeURIComponent(row.id)}`;
  });
  new ResizeObserver(() => draw()).observe(wrap);
  requestAnimationFrame(draw);
  return wrap;
}
