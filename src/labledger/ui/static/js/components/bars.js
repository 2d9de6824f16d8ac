// Horizontal bars with confidence-interval whiskers, in plain DOM (values as text, widths as
// percentages), so the numbers are readable by a person and by a test.
import { h } from "../dom.js";
import { fmtNumber } from "../format.js";

/**
 * items: [{label, value, ci: [lo, hi]}]; domain: [min, max] of the scale (0 drawn as a line).
 */
export function ciBars(items, { domain, valueLabel = (v) => fmtNumber(v, 3) } = {}) {
  const lo = domain ? domain[0] : Math.min(0, ...items.flatMap((i) => [i.value, ...(i.ci || [])]).filter(Number.isFinite));
  const hi = domain ? domain[1] : Math.max(0, ...items.flatMap((i) => [i.value, ...(i.ci || [])]).filter(Number.isFinite));
  const span = hi - lo || 1;
  const pct = (v) => `${(100 * (Math.min(hi, Math.max(lo, v)) - lo)) / span}%`;
  const zero = pct(0);
  return h("div.bars", null, items.map((item) => {
    const track = h("div.bar-track", null, lo <= 0 && hi >= 0 ? h("div.bar-zero", { style: { left: zero } }) : null);
    if (Number.isFinite(item.value)) {
      const a = Math.min(0, item.value);
      const b = Math.max(0, item.value);
      track.append(h("div.bar-fill", { style: { left: pct(a), width: `calc(${pct(b)} - ${pct(a)})` } }));
    }
    const ci = item.ci && item.ci.every(Number.isFinite) ? item.ci : null;
    if (ci) track.append(h("div.bar-ci", { style: { left: pct(ci[0]), width: `calc(${pct(ci[1])} - ${pct(ci[0])})` }, title: `95% interval ${fmtNumber(ci[0], 3)} to ${fmtNumber(ci[1], 3)}` }));
    return h("div.bar-row", { dataset: { key: item.label } },
      h("div.bar-label", { title: item.label }, item.label),
      track,
      h("div.bar-value", null, Number.isFinite(item.value) ? valueLabel(item.value) : "—",
        ci ? ` [${fmtNumber(ci[0], 2)}, ${fmtNumber(ci[1], 2)}]` : ""));
  }));
}
