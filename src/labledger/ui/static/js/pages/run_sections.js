// Run page sections: config, environment (packages), artifacts with lineage, reproductions.
import { api } from "../api.js";
import { errorBox, h, mount, searchBox } from "../dom.js";
import { fmtBytes, fmtValue } from "../format.js";
import { lineageGraph } from "../components/lineage.js";
import { runLink, statusBadge } from "../components/cells.js";
import { searchableTree } from "../components/tree.js";

export function configView(config, query, onSearch) {
  return h("section.panel", null, h("h2", null, "Config"), searchableTree(config, query, onSearch));
}

export function environmentView(capturesPromise, query, onSearch) {
  const box = h("section.panel", null, h("h2", null, "Environment"), h("p.muted", null, "loading…"));
  capturesPromise.then((c) => {
    const env = c.environment || {};
    const packages = Object.entries(env.packages || {}).sort(([a], [b]) => a.localeCompare(b));
    const tbody = h("tbody");
    const count = h("span.muted");
    const draw = (needle) => {
      onSearch(needle);
      const n = (needle || "").toLowerCase();
      const shown = packages.filter(([name, v]) => !n || name.toLowerCase().includes(n) || fmtValue(v).toLowerCase().includes(n));
      count.textContent = `${shown.length} of ${packages.length} packages`;
      mount(tbody, shown.map(([name, v]) => h("tr", null, h("td", null, name), h("td.mono", null, fmtValue(v)))));
    };
    const other = Object.entries(env).filter(([k]) => k !== "packages");
    mount(box, h("h2", null, "Environment"),
      h("table.kv", null, h("tbody", null, other.map(([k, v]) => h("tr", null, h("td", null, k), h("td.mono", null, fmtValue(v)))))),
      h("h3", null, "Packages"),
      h("div.toolbar", null, searchBox("search packages", query, draw), count),
      h("table.grid", null, h("thead", null, h("tr", null, h("th", null, "package"), h("th", null, "version"))), tbody));
    draw(query);
  });
  return box;
}

function versionTable(versions) {
  if (!versions?.length) return h("p.muted", null, "none");
  return h("table.grid", null,
    h("thead", null, h("tr", null, ["artifact", "type", "aliases", "files", "digest"].map((t) => h("th", null, t)))),
    h("tbody", null, versions.map((v) => h("tr", null,
      h("td", null, `${v.name}:v${v.version}`),
      h("td", null, v.type || ""),
      h("td", null, (v.aliases || []).join(", ")),
      h("td", null, (v.manifest || v.files || []).map((f) => {
        const path = f.path || f.name;
        return h("div", null, h("a", { href: api.artifactFileUrl(v.name, v.version, path), download: "" }, path),
          " ", h("span.muted", null, fmtBytes(f.size)));
      })),
      h("td.mono", null, String(v.digest || "").slice(0, 12))))));
}

export function artifactsView(runId) {
  const box = h("div", null, h("p.muted", null, "loading…"));
  api.artifacts(runId).then(async ({ produced, used }) => {
    const graphs = h("div.lineage");
    mount(box,
      h("section.panel", null, h("h2", null, "Produced"), versionTable(produced)),
      h("section.panel", null, h("h2", null, "Used"), versionTable(used)),
      h("section.panel", null, h("h2", null, "Lineage"), graphs));
    const seen = new Set();
    for (const v of [...(produced || []), ...(used || [])]) {
      const key = `${v.name}:${v.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        const graph = await api.lineage(v.name, `v${v.version}`);
        for (const n of graph.nodes || []) if (String(n.id) === runId || n.run === runId) n.current = true;
        graphs.append(h("h3", null, key), lineageGraph(graph, {
          onNode: (n) => { if ((n.kind || n.type) === "run") location.href = `/run/${encodeURIComponent(n.run || n.id)}`; },
        }));
      } catch (error) {
        graphs.append(errorBox(error));
      }
    }
    if (!seen.size) graphs.append(h("p.muted", null, "no artifacts"));
  }, (error) => mount(box, errorBox(error)));
  return box;
}

export function reproductionsView(runId) {
  const box = h("section.panel", null, h("h2", null, "Reproductions"), h("p.muted", null, "loading…"));
  api.reproductions(runId).then((items) => {
    mount(box, h("h2", null, "Reproductions"), items.length
      ? h("table.grid", null,
        h("thead", null, h("tr", null, ["run", "status", "verify", "detail"].map((t) => h("th", null, t)))),
        h("tbody", null, items.map((r) => {
          const verify = r.verify || {};
          const verdict = verify.passed === undefined ? "not verified" : verify.passed ? "agrees" : "differs";
          return h("tr", null, h("td", null, runLink(r.run)), h("td", null, statusBadge(r.status)),
            h("td", null, verdict),
            h("td", null, (verify.causes || []).map((c) => h("div", null, c.title)),
              verify.compared !== undefined ? h("div.muted", null, `${verify.compared} values compared`) : null));
        })))
      : h("p.muted", null, "No reproductions yet: labledger reproduce ", runId));
  }, (error) => mount(box, errorBox(error)));
  return box;
}
