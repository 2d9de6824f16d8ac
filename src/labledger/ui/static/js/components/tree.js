// Nested config as a collapsible tree; with a search text, the matching flattened keys only.
import { h, mount, searchBox } from "../dom.js";
import { fmtValue } from "../format.js";

export function flatten(value, prefix = "", out = []) {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, value]);
  }
  return out;
}

function nested(value) {
  const ul = h("ul");
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) {
      ul.append(h("li", null, h("details", { open: true }, h("summary", null, h("span.k", null, k)), nested(v))));
    } else {
      ul.append(h("li", null, h("span.k", null, k), ": ", fmtValue(v)));
    }
  }
  return ul;
}

export function searchableTree(value, initial = "", onSearch = null) {
  const body = h("div.tree");
  const draw = (needle) => {
    if (onSearch) onSearch(needle);
    if (!needle) return mount(body, nested(value || {}));
    const n = needle.toLowerCase();
    const hits = flatten(value || {}).filter(
      ([k, v]) => k.toLowerCase().includes(n) || fmtValue(v).toLowerCase().includes(n));
    mount(body, hits.length
      ? h("ul", null, hits.map(([k, v]) => h("li", null, h("span.k", null, k), " = ", fmtValue(v))))
      : h("p.muted", null, "nothing matches"));
  };
  draw(initial);
  return h("div", null, searchBox("search config", initial, draw), body);
}
