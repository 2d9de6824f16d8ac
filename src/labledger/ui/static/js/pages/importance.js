// Parameter importance for a metric: correlation and permutation importance per config key,
// each with a bootstrap interval; the method is explained on the page.
import { api } from "../api.js";
import { errorBox, h, href, mount } from "../dom.js";
import { fmtNumber } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { ciBars } from "../components/bars.js";
import { runSetBar } from "../components/runset.js";

const EXPLANATION = [
  "Correlation: Spearman rank correlation between the key's value and the metric across the runs (categorical keys are one-hot encoded and the strongest category is shown). It says whether larger values go with a larger metric, not whether the key causes it.",
  "Importance: a random forest predicts the metric from every config key at once; permutation importance is how much its prediction error grows when one key's values are shuffled. It captures non-linear effects and interactions, and is about 0 for a key that does not matter.",
  "Intervals: 95% bootstrap intervals: the runs are resampled with replacement many times and both numbers recomputed each time. A bar whose interval crosses 0 is not distinguishable from no effect with these runs.",
];

export async function render(root) {
  const project = url.get("project");
  if (!project) return mount(root, h("p", null, "Open this page from a project."));
  setProject(project);
  const out = h("div");
  const bar = await runSetBar(project, () => load());
  mount(root,
    h("h1", null, "Parameter importance in ", project),
    bar.element,
    out,
    h("section.panel#method", null, h("h2", null, "What these numbers mean"), EXPLANATION.map((t) => h("p", null, t))));

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
    const keys = result.keys || [];
    const corr = keys.map((k) => ({ label: k.key, value: k.correlation, ci: k.correlation_ci }));
    const imp = keys.map((k) => ({ label: k.key, value: k.importance, ci: k.importance_ci }));
    mount(out,
      result.warning ? h("p.warning#importance-warning", { role: "status" }, result.warning) : null,
      h("p.muted", null, `${result.n_runs} runs · metric ${result.metric}`),
      result.method ? h("p.note#importance-method", null, result.method) : null,
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
