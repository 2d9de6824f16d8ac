// Console output: searchable (server-side `q`), ANSI colours, stderr marked, live tail.
import { api } from "../api.js";
import { h, mount, searchBox } from "../dom.js";
import { ansiNodes } from "./ansi.js";

export function consoleView(runId, { tail = 2000, query = "", onSearch } = {}) {
  const pre = h("pre.console", { "aria-label": "console output" });
  const info = h("span.muted");
  let needle = query;

  function line(entry) {
    const span = h(entry.stream === "stderr" ? "span.stderr" : "span");
    span.append(...ansiNodes(entry.text, {}, needle));
    return span;
  }

  async function load() {
    const lines = await api.output(runId, { tail, q: needle });
    mount(pre, lines.map(line));
    info.textContent = needle ? `${lines.length} matching lines` : `last ${lines.length} lines`;
    pre.scrollTop = pre.scrollHeight;
  }

  const box = h("div", null,
    h("div.toolbar", null, searchBox("search output", needle, (text) => {
      needle = text;
      if (onSearch) onSearch(text);
      load();
    }), info),
    pre);
  load();
  return {
    element: box,
    /** Live lines (ignored while searching: the search shows stored matches). */
    append(entries) {
      if (needle) return;
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
      for (const entry of entries) pre.append(line(entry));
      if (stick) pre.scrollTop = pre.scrollHeight;
    },
  };
}
