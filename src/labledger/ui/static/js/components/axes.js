// Shared helpers of the canvas plots: numeric or categorical axes, colour scales.
import { fmtNumber } from "../format.js";

/** An axis over values: numbers map linearly, anything else to evenly spaced categories. */
export function makeAxis(key, values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    let min = Math.min(...present);
    let max = Math.max(...present);
    if (min === max) {
      min -= 0.5;
      max += 0.5;
    }
    return {
      key, numeric, min, max,
      norm: (v) => (typeof v === "number" && Number.isFinite(v) ? (v - min) / (max - min) : null),
      denorm: (t) => min + t * (max - min),
      ticks: () => [[0, fmtNumber(min, 3)], [1, fmtNumber(max, 3)]],
    };
  }
  const categories = [...new Set(present.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))))].sort();
  const index = new Map(categories.map((c, i) => [c, i]));
  const n = Math.max(1, categories.length - 1);
  const label = (v) => (typeof v === "object" ? JSON.stringify(v) : String(v));
  return {
    key, numeric, categories,
    norm: (v) => (v === null || v === undefined ? null : categories.length === 1 ? 0.5 : index.get(label(v)) / n),
    denorm: (t) => t,
    ticks: () => categories.map((c, i) => [categories.length === 1 ? 0.5 : i / n, c]),
  };
}

/** Blue (low) to red (high). */
export function heat(t) {
  if (t === null || t === undefined || Number.isNaN(t)) return "rgba(120,120,120,0.6)";
  const r = Math.round(37 + t * (220 - 37));
  const g = Math.round(99 + t * (38 - 99));
  const b = Math.round(235 + t * (38 - 235));
  return `rgb(${r}, ${g}, ${b})`;
}

/** A canvas sized for the device pixel ratio; returns [canvas, ctx]. */
export function hiDpiCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(width * ratio);
  canvas.height = Math.floor(height * ratio);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}
