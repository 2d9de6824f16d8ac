// The "which runs, which metric" bar shared by the importance and "is it real?" pages.
import { api } from "../api.js";
import { h, href } from "../dom.js";
import * as url from "../url.js";
import { filterBox } from "./filterbox.js";

/** Reads project/filter/runs/metric from the URL; calls onChange() after a change. */
export async function runSetBar(project, onChange, extra = []) {
  const keys = await api.keys(project);
  const metrics = keys.metrics.filter((k) => !k.startsWith("system/"));
  const state = {
    project,
    filter: url.get("filter"),
    runs: url.getList("runs"),
    metric: url.get("metric", metrics.includes("val/acc") ? "val/acc" : metrics[0] || ""),
  };
  const filter = filterBox(state.filter, (text) => {
    state.filter = text;
    url.update({ filter: text });
    onChange();
  });
  const metric = h("select", { "aria-label": "metric" },
    metrics.map((k) => h("option", { value: k, selected: k === state.metric }, k)));
  metric.addEventListener("change", () => {
    state.metric = metric.value;
    url.update({ metric: metric.value });
    onChange();
  });
  const bar = h("div", null,
    state.runs.length
      ? h("p.muted", null, `${state.runs.length} selected runs · `, h("a", { href: href(location.pathname, { project }) }, "use all runs"))
      : h("div.toolbar", null, filter.element),
    h("div.toolbar", null, h("label", null, "metric ", metric), extra));
  return { element: bar, state, keys, filter };
}
