// Run page: overview, charts (live while running), config, environment, console, artifacts,
// reproductions. The chosen tab and searches live in the URL.
import { api } from "../api.js";
import { h, href, mount } from "../dom.js";
import { fmtDuration, fmtTime } from "../format.js";
import { setProject } from "../nav.js";
import * as url from "../url.js";
import { statusBadge, tagList } from "../components/cells.js";
import { consoleView } from "../components/console.js";
import { runCharts } from "../components/runcharts.js";
import { overview } from "./run_overview.js";
import { artifactsView, configView, environmentView, reproductionsView } from "./run_sections.js";

const TABS = [
  ["overview", "Overview"],
  ["system", "System"],
  ["config", "Config"],
  ["environment", "Environment"],
  ["console", "Console"],
  ["artifacts", "Artifacts"],
  ["reproductions", "Reproductions"],
];

export async function render(root, runId) {
  const [run, metrics] = await Promise.all([api.run(runId), api.metrics(runId)]);
  const id = run.run_id || run.id || runId;
  setProject(run.project);
  const captures = api.captures(id).catch(() => ({}));
  // A key logged once (or only set in the summary) is a number, not a curve: the overview has it.
  const keys = metrics.filter((m) => m.count > 1).map((m) => m.key).sort();
  const userKeys = keys.filter((k) => !k.startsWith("system/"));
  const systemKeys = keys.filter((k) => k.startsWith("system/"));

  const badge = h("span#run-status", null, statusBadge(run.status));
  const reason = h("div#run-error");
  const showStatus = (status, error) => {
    mount(badge, statusBadge(status));
    mount(reason, error ? h("pre.error", null, error) : null);
  };
  showStatus(run.status, run.error);

  const tabBar = h("nav.tabs");
  const body = h("div.tab-body");
  const built = new Map();
  let active = url.get("tab", "overview");
  const views = {};

  function build(tab) {
    const box = h("div", { dataset: { tab } });
    if (tab === "overview") {
      box.append(overview(run, captures));
      const charts = h("div#charts");
      box.append(h("section.panel", null, h("h2", null, "Metrics"), charts));
      views.charts = runCharts(charts, id, userKeys, { log: url.getBool("log") });
    } else if (tab === "system") {
      const charts = h("div#system-charts");
      box.append(charts);
      views.system = runCharts(charts, id, systemKeys);
    } else if (tab === "config") {
      box.append(configView(run.config, url.get("q"), (q) => url.update({ q })));
    } else if (tab === "environment") {
      box.append(environmentView(captures, url.get("q"), (q) => url.update({ q })));
    } else if (tab === "console") {
      views.console = consoleView(id, { query: url.get("q"), onSearch: (q) => url.update({ q }) });
      box.append(views.console.element);
    } else if (tab === "artifacts") {
      box.append(artifactsView(id));
    } else if (tab === "reproductions") {
      box.append(reproductionsView(id));
    }
    return box;
  }

  function show(tab) {
    active = TABS.some(([t]) => t === tab) ? tab : "overview";
    mount(tabBar, TABS.map(([t, label]) => {
      const a = h("a", { href: href(location.pathname, { tab: t === "overview" ? "" : t }), class: t === active ? "active" : null, dataset: { tab: t } }, label);
      a.addEventListener("click", (e) => {
        e.preventDefault();
        url.update({ tab: t === "overview" ? "" : t, q: "" });
        show(t);
      });
      return a;
    }));
    for (const el of built.values()) el.hidden = true;
    if (!built.has(active)) {
      const el = build(active);
      built.set(active, el);
      body.append(el);
    }
    built.get(active).hidden = false;
  }

  mount(root,
    h("div.toolbar", null,
      h("a", { href: href("/runs", { project: run.project }) }, `← runs in ${run.project}`),
      h("a", { href: href("/compare", { project: run.project, runs: [id] }) }, "compare with…")),
    h("h1", null, run.name || id, " ", badge, " ", h("span.muted.mono", null, id)),
    h("div.toolbar", null, tagList(run.tags), run.group ? h("span.muted", null, `group ${run.group}`) : null,
      h("span.muted", null, `created ${fmtTime(run.created_at)}`),
      h("span.muted", { id: "run-runtime" }, `runtime ${fmtDuration(run.runtime)}`)),
    run.notes ? h("p.note", null, run.notes) : null,
    reason, tabBar, body);
  show(active);

  if (run.status === "running") live(id, views, showStatus);
}

/** Server-sent events of a running run: points into charts, lines into the console, status. */
function live(id, views, showStatus) {
  const indicator = h("span.muted#live", null, " ● live");
  document.getElementById("run-status").after(indicator);
  const source = api.live(id, {
    points: (p) => {
      const target = p.key.startsWith("system/") ? views.system : views.charts;
      if (target) target.ready.then(() => target.append(p.key, p.steps, p.values));
    },
    output: (data) => {
      const lines = Array.isArray(data) ? data : data.lines || [data];
      if (views.console) views.console.append(lines);
    },
    status: (s) => {
      showStatus(s.status, s.error);
      if (s.status !== "running") {
        indicator.textContent = "";
        source.close();
      }
    },
    end: () => {
      indicator.textContent = "";
      source.close();
    },
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) indicator.textContent = " (live updates stopped)";
  };
  window.addEventListener("pagehide", () => source.close());
}

