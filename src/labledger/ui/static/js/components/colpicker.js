// Column picker: a searchable list of every config key and metric summary (last/min/max).
import { h, mount } from "../dom.js";

export function columnPicker(keys, chosen, onChange) {
  const selected = new Set(chosen);
  const all = [
    ...keys.config.map((k) => `config.${k}`),
    ...keys.metrics.flatMap((k) => ["last", "min", "max"].map((s) => `metrics.${k}.${s}`)),
  ];
  const list = h("div.picker-list");
  const search = h("input.search", { type: "search", placeholder: "search keys", "aria-label": "search columns" });
  const menu = h("div.picker-menu", { hidden: true }, search, list);
  const button = h("button", { type: "button", "aria-haspopup": "true" }, "Columns");
  const root = h("div.picker", null, button, menu);

  function draw() {
    const needle = search.value.toLowerCase();
    const shown = all.filter((c) => c.toLowerCase().includes(needle)).slice(0, 400);
    mount(list, shown.map((column) => {
      const box = h("input", { type: "checkbox", checked: selected.has(column), value: column });
      box.addEventListener("change", () => {
        if (box.checked) selected.add(column);
        else selected.delete(column);
        onChange([...all.filter((c) => selected.has(c))]);
      });
      return h("label", null, box, column);
    }));
    if (!shown.length) list.append(h("p.muted", null, "no key matches"));
  }
  search.addEventListener("input", draw);
  button.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    if (!menu.hidden) {
      draw();
      search.focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!root.contains(e.target)) menu.hidden = true;
  });
  return root;
}
