// A tiny canvas sparkline (runs per day on the projects page).

export function sparkline(values, { width = 160, height = 28, color = "#2563eb" } = {}) {
  const canvas = document.createElement("canvas");
  canvas.className = "spark";
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  if (!values.length) return canvas;
  const max = Math.max(...values, 1);
  const step = values.length > 1 ? (width - 2) / (values.length - 1) : 0;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = 1 + i * step;
    const y = height - 2 - (v / max) * (height - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.stroke();
  return canvas;
}

/** Fill the gaps of [[day, count], ...] with zeros so the x axis is calendar days. */
export function perDay(pairs, days = 30) {
  const counts = new Map(pairs.map(([day, count]) => [String(day).slice(0, 10), count]));
  const out = [];
  const today = new Date();
  for (let i = days - 1; i >= 0; i -= 1) {
    const d = new Date(today.getTime() - i * 86400000);
    out.push(counts.get(d.toISOString().slice(0, 10)) || 0);
  }
  return out;
}
