// Parameter importance for a metric: correlation and permutation importance per config key,
// each with a bootstrap interval; the method is explained on the page.
import { api } from "../api.js";
import { errorBox, h, href, mount } from "../dom.js";
import { fmtNumber } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { ciBars } from "../components/bars.js";
import { runSetBar } from "../components/runset.js";

// Until the server has answered: the method in brief (the server's own text replaces it).
const BRIEF = "Correlation: how the key's value goes with the metric across the runs. Importance: how much a random forest that predicts the metric from every key loses when this key's values are shuffled. Intervals: 95% bootstrap intervals over the runs; one that excludes 0 is unlikely to be chance.";

export async function render(root) {
  const project = url.get("project");
  if (!project) return mount(root, h("p", null, "Open this page from a project."));
  setProject(project);
  const out = h("div");
  const methodText = h("div", null, h("p", null, BRIEF));
  const method = h("section.panel#method", null, h("h2", null, "What these numbers mean"), methodText);
  const bar = await runSetBar(project, () => load());
  mount(root,
    h("h1", null, "Parameter importance in ", project),
    bar.element,
    out,
    method);

  async function load() {
    mount(out, h("p.muted", null, "computing…"));
    const { state } = bar;
    let result;
    try {
      result = await api.importance({ project, filter: state.filter, runs: state.runs, metric: state.metric });
      bar.filter.setError(null);
    } catch (error) {
      if (error.code === "invalid_filter") bar.filter.setError(error);
      mount(out, errorBox(error));
      return;
    }
    if (result.method) {
      // One paragraph per part ("Correlation: …", "Importance: …", "Intervals: …").
      const parts = result.method.split(/ (?=(?:Correlation|Importance|Intervals): )/);
      mount(methodText, parts.map((t) => h("p", null, t)));
    }
    const keys = result.keys || [];
    const corr = keys.map((k) => ({ label: k.key, value: k.correlation, ci: k.correlation_ci }));
    const imp = keys.map((k) => ({ label: k.key, value: k.importance, ci: k.importance_ci }));
    mount(out,
      result.warning ? h("p.warning#importance-warning", { role: "status" }, result.warning) : null,
      h("p.muted", null, `${result.n_runs} runs · metric ${result.metric}`),
      h("div.charts", null,
        h("section.panel", null, h("h2", null, "Importance (permutation, random forest)"), ciBars(imp)),
        h("section.panel", null, h("h2", null, "Correlation with the metric"), ciBars(corr, { domain: [-1, 1] }))),
      h("section.panel", null, h("h2", null, "Table"),
        h("table.grid#importance-table", null,
          h("thead", null, h("tr", null, ["key", "kind", "importance", "95% interval", "correlation", "95% interval", ""].map((t) => h("th", null, t)))),
          h("tbody", null, keys.map((k) => h("tr", null,
            h("td.mono", null, k.key), h("td", null, k.kind || ""),
            h("td.num", null, fmtNumber(k.importance, 3)), h("td.num", null, ci(k.importance_ci)),
            h("td.num", null, fmtNumber(k.correlation, 3)), h("td.num", null, ci(k.correlation_ci)),
            h("td", null, h("a", { href: href("/significance", { project, filter: state.filter, runs: state.runs, metric: state.metric, by: `config.${k.key.replace(/^config\./, "")}` }) }, "is it real?"))))))),
      result.dropped?.length
        ? h("p.muted", null, "Not analysed: ", result.dropped.map((d) => `${d.key} (${d.reason})`).join("; "))
        : null);
  }
  load();
}

function ci(pair) {
  return pair && pair.length === 2 ? `[${fmtNumber(pair[0], 3)}, ${fmtNumber(pair[1], 3)}]` : "";
}
