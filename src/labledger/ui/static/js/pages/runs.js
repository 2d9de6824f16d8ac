// Runs table: server-side filter/sort/paging, virtualised rows, column picker, selection for
// compare, and grouping by a config key with counts and mean ± std of a metric.
import { api, quote } from "../api.js";
import { errorBox, h, href, mount } from "../dom.js";
import { columnLabel, fmtDuration, fmtNumber, fmtTime, fmtValue } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { columnPicker } from "../components/colpicker.js";
import { filterBox } from "../components/filterbox.js";
import { runLink, statusBadge, tagList } from "../components/cells.js";
import { headRow, staticRows, virtualTable } from "../components/vtable.js";

const BASE = [
  { id: "status", label: "Status", width: 90, cell: (r) => statusBadge(r.status) },
  { id: "name", label: "Name", width: 260, cell: (r) => runLink(r, r.name || r.id) },
  { id: "user", label: "User", width: 90, cell: (r) => r.user || "" },
  { id: "host", label: "Host", width: 120, cell: (r) => r.host || "" },
  { id: "created_at", label: "Created", width: 150, cell: (r) => fmtTime(r.created_at) },
  { id: "runtime", label: "Duration", width: 90, num: true, cell: (r) => fmtDuration(r.runtime) },
  { id: "tags", label: "Tags", width: 150, sortable: false, cell: (r) => tagList(r.tags) },
];

function defaultColumns(keys) {
  return [
    ...keys.config.slice(0, 4).map((k) => `config.${k}`),
    ...keys.metrics.filter((k) => !k.startsWith("system/")).slice(0, 3).map((k) => `metrics.${k}.last`),
  ];
}

export async function render(root) {
  const project = url.get("project");
  if (!project) {
    mount(root, h("p", null, "Pick a project on the ", h("a", { href: "/" }, "projects page"), "."));
    return;
  }
  setProject(project);
  // The keys feed only the column picker and grouping menus: when the URL names the columns,
  // the first page of rows is fetched at the same time instead of after them.
  const keysPromise = api.keys(project);
  const early = url.params().has("columns") && !url.get("group");
  let keys = early ? { config: [], metrics: [] } : await keysPromise;
  const state = {
    filter: url.get("filter"),
    sort: url.get("sort", "-created_at"),
    columns: url.params().has("columns") ? url.getList("columns") : defaultColumns(keys),
    selected: new Set(url.getList("sel")),
    group: url.get("group"),
    gmetric: url.get("gmetric"),
    open: new Set(url.getList("open")),
  };

  const count = h("span.muted", { id: "run-count" });
  const compare = h("a", { id: "compare-link" });
  const filter = filterBox(state.filter, (text) => {
    state.filter = text;
    save();
    redraw();
  });
  const controls = h("span.toolbar");
  let metricSelect;
  function drawControls() {
    const picker = columnPicker(keys, state.columns, (columns) => {
      state.columns = columns;
      save();
      redraw();
    });
    const groupSelect = h("select", { "aria-label": "group by" },
      h("option", { value: "" }, "no grouping"),
      keys.config.map((k) => h("option", { value: `config.${k}`, selected: state.group === `config.${k}` }, k)));
    metricSelect = h("select", { "aria-label": "group metric" },
      keys.metrics.map((k) => h("option", { value: `metrics.${k}.last`, selected: state.gmetric === `metrics.${k}.last` }, k)));
    groupSelect.addEventListener("change", () => {
      state.group = groupSelect.value;
      state.open.clear();
      save();
      redraw();
    });
    metricSelect.addEventListener("change", () => {
      state.gmetric = metricSelect.value;
      save();
      redraw();
    });
    mount(controls, picker, h("label", null, "Group by ", groupSelect), h("label", null, "metric ", metricSelect));
  }
  drawControls();
  const clear = h("button", { type: "button", onclick: () => {
    state.selected.clear();
    save();
    table?.refresh?.();
    redraw(true);
  } }, "Clear selection");
  const area = h("div.table-area");
  mount(root,
    h("h1", null, "Runs in ", project, " ", count),
    h("div.toolbar", null, filter.element),
    h("div.toolbar", null, controls,
      compare, clear,
      h("a", { href: href("/importance", { project, filter: state.filter }) , id: "importance-link"}, "importance"),
      h("a", { href: href("/significance", { project, filter: state.filter }) }, "is it real?")),
    area);

  function save() {
    url.update({
      filter: state.filter,
      sort: state.sort === "-created_at" ? "" : state.sort,
      columns: state.columns.join(",") === defaultColumns(keys).join(",") ? null : state.columns.join(",") || ",",
      sel: [...state.selected],
      group: state.group,
      gmetric: state.group ? metricSelect.value : "",
      open: [...state.open],
    });
    updateCompare();
  }

  function updateCompare() {
    const n = state.selected.size;
    mount(compare, n >= 2 ? `Compare ${n} runs` : n === 1 ? "select 2+ runs to compare" : "");
    compare.href = n ? href("/compare", { project, runs: [...state.selected] }) : "#";
  }

  function toggle(row, checked) {
    if (checked) state.selected.add(row.id);
    else state.selected.delete(row.id);
    save();
    table?.refresh();
  }

  function columns() {
    const select = {
      id: "select", label: "", width: 34, sortable: false,
      cell: (r) => h("input", { type: "checkbox", checked: state.selected.has(r.id), "aria-label": `select ${r.id}`,
        onchange: (e) => toggle(r, e.target.checked) }),
    };
    const extra = state.columns.map((c) => ({
      id: c, label: columnLabel(c), title: c, width: 130, num: true,
      cell: (r) => fmtValue(r.values?.[c]),
    }));
    return [select, ...BASE, ...extra];
  }

  let table = null;
  function sortState() {
    const first = state.sort.split(",")[0] || "";
    return { id: first.replace(/^-/, ""), desc: first.startsWith("-") };
  }

  function onSort(id) {
    const current = sortState();
    state.sort = current.id === id && !current.desc ? `-${id}` : id;
    save();
    redraw();
  }

  function redraw() {
    if (state.group) return drawGroups();
    const params = { project, filter: state.filter, sort: state.sort, columns: state.columns };
    table = virtualTable(columns(), (offset, limit) => api.runs({ ...params, offset, limit }), {
      sort: sortState(),
      onSort,
      rowClass: (r) => (state.selected.has(r.id) ? "selected" : null),
      onLoad: (result) => {
        filter.setError(null);
        count.textContent = `(${result.total})`;
      },
      onError: (error) => showError(error),
    });
    mount(area, table.element);
  }

  function showError(error) {
    if (error.code === "invalid_filter") {
      filter.setError(error);
      count.textContent = "";
      mount(area);
    } else {
      mount(area, errorBox(error));
    }
  }

  async function drawGroups() {
    table = null;
    const metric = metricSelect.value;
    let groups;
    try {
      groups = await api.groups({ project, filter: state.filter, by: state.group, metric });
      filter.setError(null);
    } catch (error) {
      showError(error);
      return;
    }
    count.textContent = `(${groups.reduce((n, g) => n + g.count, 0)})`;
    const cols = columns();
    const blocks = groups.map((g) => {
      const key = String(g.value);
      const body = h("div.group-body");
      const head = h("div.group-head", { role: "button", dataset: { value: key } },
        h("span", null, state.open.has(key) ? "▾" : "▸"),
        h("strong", null, `${columnLabel(state.group)} = ${fmtValue(g.value)}`),
        h("span.count", null, `${g.count} runs`),
        h("span", null, `${columnLabel(metric)}: `,
          g.mean === null || g.mean === undefined ? "—" : `${fmtNumber(g.mean)} ± ${fmtNumber(g.std ?? 0)}`));
      const open = async () => {
        const clause = g.value === null ? `${state.group} is null` : `${state.group} = ${quote(g.value)}`;
        const where = state.filter ? `(${state.filter}) and ${clause}` : clause;
        const result = await api.runs({ project, filter: where, sort: state.sort, columns: state.columns, limit: 500 });
        mount(body, staticRows(cols, result.rows, { rowClass: (r) => (state.selected.has(r.id) ? "selected" : null) }));
        if (result.total > result.rows.length) body.append(h("p.muted", null, `${result.total - result.rows.length} more: filter to see them`));
      };
      head.addEventListener("click", () => {
        if (state.open.has(key)) {
          state.open.delete(key);
          mount(body);
        } else {
          state.open.add(key);
          open().catch((e) => mount(body, errorBox(e)));
        }
        head.firstChild.textContent = state.open.has(key) ? "▾" : "▸";
        save();
      });
      if (state.open.has(key)) open().catch((e) => mount(body, errorBox(e)));
      return h("div.group", null, head, body);
    });
    mount(area, h("div.vtable.groups", null, headRow(cols), blocks));
  }

  updateCompare();
  redraw();
  if (early) {
    keys = await keysPromise;
    drawControls();
  }
}
