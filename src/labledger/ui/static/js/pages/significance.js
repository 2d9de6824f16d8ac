// "Is the difference real?": each group's final metric with a bootstrap interval, and the
// probability the best group beats the runner-up, said as a sentence.
import { api } from "../api.js";
import { errorBox, h, mount } from "../dom.js";
import { fmtNumber } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { ciBars } from "../components/bars.js";
import { runSetBar } from "../components/runset.js";

export async function render(root) {
  const project = url.get("project");
  if (!project) return mount(root, h("p", null, "Open this page from a project."));
  setProject(project);
  const out = h("div");
  const methodText = h("p", null, "Each group's value is the mean of its runs' final metric, with a 95% bootstrap interval over its runs; the probability that the best group beats the runner-up comes from the same resamples. Below 95% the difference is within the noise of these runs (seeds, data order).");
  const by = h("select", { "aria-label": "group by" });
  const higher = h("select", { "aria-label": "better is" },
    h("option", { value: "" }, "better: inferred from the name"),
    h("option", { value: "true" }, "higher is better"), h("option", { value: "false" }, "lower is better"));
  const bar = await runSetBar(project, () => load(), [h("label", null, "groups ", by), higher]);
  const selected = url.getList("runs");
  const current = url.get("by", selected.length ? "run" : "");
  const options = [
    ["", "configuration (runs differing only by seed pooled)"],
    ...bar.keys.config.map((k) => [`config.${k}`, k]),
    ["user", "user"],
    ["host", "host"],
    ["group", "run group"],
    ...(selected.length ? [["run", "each selected run"]] : []),
  ];
  for (const [value, label] of options) by.append(h("option", { value, selected: value === current }, label));
  higher.value = url.get("higher_is_better", "");
  by.addEventListener("change", () => {
    url.update({ by: by.value });
    load();
  });
  higher.addEventListener("change", () => {
    url.update({ higher_is_better: higher.value });
    load();
  });
  mount(root,
    h("h1", null, "Is the difference real? ", h("span.muted", null, project)),
    bar.element,
    out,
    h("section.panel#method", null, h("h2", null, "How this is computed"), methodText));

  async function load() {
    mount(out, h("p.muted", null, "computing…"));
    const { state } = bar;
    let result;
    try {
      const perRun = by.value === "run";
      result = await api.significance({
        project,
        filter: state.filter,
        runs: perRun ? "" : state.runs,
        sets: perRun ? state.runs.map((id) => `${id}:${id}`).join(";") : "",
        metric: state.metric,
        by: perRun ? "" : by.value,
        higher_is_better: higher.value,
      });
      bar.filter.setError(null);
    } catch (error) {
      if (error.code === "invalid_filter") bar.filter.setError(error);
      mount(out, errorBox(error));
      return;
    }
    const groups = result.groups || [];
    mount(out,
      h(`p.verdict.verdict-${result.verdict}#verdict`, { dataset: { verdict: result.verdict } }, result.sentence),
      h("section.panel", null, h("h2", null, `${result.metric} by group (mean, 95% interval)`),
        ciBars(groups.map((g) => ({ label: `${g.name} (n=${g.n})`, value: g.mean, ci: g.ci })), { domain: around(groups) })),
      h("table.grid#significance-table", null,
        h("thead", null, h("tr", null, ["group", "runs", "mean", "95% interval", "values"].map((t) => h("th", null, t)))),
        h("tbody", null, groups.map((g) => h("tr", null,
          h("td", null, g.name, g.name === result.best ? " (best)" : g.name === result.runner_up ? " (runner-up)" : ""),
          h("td.num", null, g.n), h("td.num", null, fmtNumber(g.mean)),
          h("td.num", null, g.ci ? `[${fmtNumber(g.ci[0])}, ${fmtNumber(g.ci[1])}]` : ""),
          h("td.mono", null, (g.values || []).map((v) => fmtNumber(v, 3)).join(", ")))))),
      result.p_best_beats_runner_up !== null && result.p_best_beats_runner_up !== undefined
        ? h("p.muted", null, `P(${result.best} beats ${result.runner_up}) = ${fmtNumber(result.p_best_beats_runner_up, 3)}`)
        : null);
    if (result.method) methodText.textContent = result.method;
  }
  load();
}

/** The scale of the group bars: the intervals with a margin (not from zero, so differences show). */
function around(groups) {
  const ends = groups.flatMap((g) => [g.mean, ...(g.ci || [])]).filter(Number.isFinite);
  if (!ends.length) return undefined;
  const lo = Math.min(...ends);
  const hi = Math.max(...ends);
  const pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.05 || 1;
  return [lo - pad, hi + pad];
}
