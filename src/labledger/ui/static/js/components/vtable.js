// A virtualised table over server-side pages: only the rows in view exist in the DOM, and only
// the pages in view are fetched, so 10,000 runs scroll like 100.
import { h } from "../dom.js";

export const ROW_HEIGHT = 30;
const PAGE = 100;
const OVERSCAN = 10;
const LOAD_DELAY = 80; // ms without scrolling before the pages in view are fetched

/**
 * columns: [{id, label, width, num, sortable, cell(row) -> Node|string}]
 * fetchPage(offset, limit, signal) -> Promise<{total, rows}>
 * opts: {sort: {id, desc}, onSort(id), rowClass(row), onRowClick(row, event)}
 */
export function virtualTable(columns, fetchPage, opts = {}) {
  const template = columns.map((c) => `${c.width || 120}px`).join(" ");
  const head = h("div.vtable-head", { style: { gridTemplateColumns: template }, role: "row" },
    columns.map((c) => {
      const cls = ["cell", c.num ? "num" : ""];
      if (opts.sort && opts.sort.id === c.id) cls.push(opts.sort.desc ? "sorted-desc" : "sorted-asc");
      const cell = h("div", { class: cls.join(" "), role: "columnheader", title: c.title || c.label,
        dataset: { column: c.id } }, c.label);
      if (c.sortable !== false && opts.onSort) cell.addEventListener("click", () => opts.onSort(c.id));
      return cell;
    }));
  const body = h("div.vtable-body");
  const scroller = h("div.vtable", { role: "table" }, head, body);
  const pages = new Map(); // page index -> rows | Promise
  let total = null;
  let frame = 0;
  let loadTimer = 0;
  let shown = new Map(); // row index -> {row, el} in the DOM
  let force = false; // rebuild every visible row on the next draw (selection changed)
  let lastScroll = -Infinity;

  // Rows are built with bare DOM calls (this runs for every row scrolled into view); a fixed
  // pixel width and `contain` keep each row's layout and paint to itself.
  const rowWidth = `${columns.reduce((sum, c) => sum + (c.width || 120), 0)}px`;

  function rowElement(row, index) {
    const el = document.createElement("div");
    el.className = row ? "vtable-row" : "vtable-row loading";
    el.style.gridTemplateColumns = template;
    el.style.width = rowWidth;
    el.style.top = `${index * ROW_HEIGHT}px`;
    el.dataset.index = String(index);
    if (!row) {
      el.append(h("div.cell", null, "…"));
      return el;
    }
    el.dataset.id = row.id;
    if (opts.rowClass) {
      const extra = opts.rowClass(row);
      if (extra) el.classList.add(extra);
    }
    for (const c of columns) {
      const cell = document.createElement("div");
      cell.className = c.num ? "cell num" : "cell";
      const content = c.cell(row);
      if (content instanceof Node) cell.append(content);
      else if (Array.isArray(content)) cell.append(...content);
      else cell.textContent = content ?? "";
      el.append(cell);
    }
    if (opts.onRowClick) el.addEventListener("click", (e) => opts.onRowClick(row, e));
    return el;
  }

  function load(page) {
    if (pages.has(page)) return;
    const promise = fetchPage(page * PAGE, PAGE).then(
      (result) => {
        pages.set(page, result.rows);
        if (result.total !== total) {
          total = result.total;
          body.style.height = `${total * ROW_HEIGHT}px`;
        }
        schedule();
        if (opts.onLoad) opts.onLoad(result);
      },
      (error) => {
        pages.delete(page);
        if (opts.onError) opts.onError(error);
      },
    );
    pages.set(page, promise);
  }

  function draw() {
    frame = 0;
    const top = scroller.scrollTop;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    let last = Math.floor((top + height) / ROW_HEIGHT) + OVERSCAN;
    if (total !== null) last = Math.min(last, total - 1);
    const nodes = [];
    const missing = [];
    for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page += 1) {
      if (!pages.has(page)) missing.push(page);
    }
    // While the user drags the scrollbar, only the pages where the scrolling stops are fetched.
    if (missing.length) {
      clearTimeout(loadTimer);
      loadTimer = setTimeout(() => {
        loadTimer = 0;
        draw();
      }, LOAD_DELAY);
      if (!scrolling()) missing.forEach(load);
    }
    // Rows already in the DOM stay (the browser need not repaint them); only rows that came
    // into view are built, and rows that left are removed.
    const keep = new Map();
    for (let i = first; i <= last; i += 1) {
      const rows = pages.get(Math.floor(i / PAGE));
      const row = Array.isArray(rows) ? rows[i % PAGE] : null;
      if (Array.isArray(rows) && row === undefined) break;
      const old = shown.get(i);
      if (old && (old.row === row || (!force && old.row && row && old.row.id === row.id))) {
        keep.set(i, old);
        shown.delete(i);
      } else {
        const el = rowElement(row, i);
        keep.set(i, { row, el });
        nodes.push(el);
      }
    }
    for (const { el } of shown.values()) el.remove();
    shown = keep;
    force = false;
    if (nodes.length) body.append(...nodes);
  }

  function scrolling() {
    return performance.now() - lastScroll < LOAD_DELAY;
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  scroller.addEventListener("scroll", () => {
    lastScroll = performance.now();
    schedule();
  }, { passive: true });
  load(0);
  return {
    element: scroller,
    total: () => total,
    /** Re-render the visible rows (selection changed). */
    refresh: () => {
      force = true;
      schedule();
    },
    /** Every loaded row (for selecting all visible). */
    loadedRows: () => [...pages.values()].filter(Array.isArray).flat(),
  };
}

/** Rows rendered without virtualisation (inside an expanded group). */
export function staticRows(columns, rows, opts = {}) {
  const template = columns.map((c) => `${c.width || 120}px`).join(" ");
  return rows.map((row) => {
    const el = h("div.vtable-row", { style: { gridTemplateColumns: template }, role: "row", dataset: { id: row.id } });
    if (opts.rowClass) {
      const extra = opts.rowClass(row);
      if (extra) el.classList.add(extra);
    }
    for (const c of columns) el.append(h(c.num ? "div.cell.num" : "div.cell", { role: "cell" }, c.cell(row)));
    if (opts.onRowClick) el.addEventListener("click", (e) => opts.onRowClick(row, e));
    return el;
  });
}

export function headRow(columns) {
  const template = columns.map((c) => `${c.width || 120}px`).join(" ");
  return h("div.vtable-head", { style: { gridTemplateColumns: template } },
    columns.map((c) => h(c.num ? "div.cell.num" : "div.cell", null, c.label)));
}
