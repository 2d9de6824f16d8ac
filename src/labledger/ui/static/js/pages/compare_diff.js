// The rendered `runs diff`: one column per run, one row per key that differs, by section.
import { h } from "../dom.js";
import { fmtValue } from "../format.js";

/** The diff response as [{section, key, values: [per run], missing: [per run]}] and run ids. */
function entries(diff) {
  const ids = (diff.runs || [diff.a, diff.b].filter(Boolean)).map((r) => r.id ?? r);
  const names = new Map((diff.runs || []).filter((r) => r.name).map((r) => [r.id, r.name]));
  const titles = diff.titles || {};
  const out = [];
  for (const [name, list] of Object.entries(diff.sections || {})) {
    const title = titles[name] || name;
    for (const e of list) {
      const values = e.values || [e.a, e.b];
      const missing = e.missing || values.map((v) => v === null || v === undefined);
      out.push({ section: name, title, key: e.key, values, missing });
    }
  }
  return { ids, names, rows: out };
}

export function diffTable(diff, runs) {
  const { ids, names, rows } = entries(diff);
  for (const r of runs) if (!names.has(r.id)) names.set(r.id, r.name || r.id);
  if (!rows.length) return h("p.note", null, "These runs do not differ in config, packages, git, hardware, seeds or data.");
  const body = h("tbody");
  let current = null;
  for (const row of rows) {
    if (row.section !== current) {
      current = row.section;
      body.append(h("tr", null, h("th", { colspan: ids.length + 1 }, row.title)));
    }
    const first = JSON.stringify(row.values[0] ?? null);
    body.append(h("tr", { dataset: { section: row.section } },
      h("td.mono", null, row.key),
      row.values.map((v, i) => h("td.mono", { class: i > 0 && JSON.stringify(v ?? null) !== first ? "diffcell-changed" : null },
        row.missing[i] ? "—" : fmtValue(v)))));
  }
  return h("div", { style: { overflowX: "auto" } }, h("table.grid#diff-table", null,
    h("thead", null, h("tr", null, h("th", null, "key"), ids.map((id) => h("th", null, names.get(id) || id)))),
    body));
}
