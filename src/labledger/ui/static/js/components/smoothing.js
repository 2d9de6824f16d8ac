// Curve maths for compare: EMA smoothing and the mean / min / max of a group of aligned curves.

/** Exponential moving average with bias correction (TensorBoard's), skipping gaps. */
export function ema(values, weight) {
  if (!weight) return values;
  const out = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/** Given aligned columns [xs, y1, y2, ...], the mean, min and max over the y columns. */
export function aggregate(joined) {
  const [xs, ...ys] = joined;
  const mean = [];
  const min = [];
  const max = [];
  for (let i = 0; i < xs.length; i += 1) {
    let sum = 0;
    let count = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const column of ys) {
      const v = column[i];
      if (v === null || v === undefined) continue;
      sum += v;
      count += 1;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    mean.push(count ? sum / count : null);
    min.push(count ? lo : null);
    max.push(count ? hi : null);
  }
  return { xs, mean, min, max };
}
