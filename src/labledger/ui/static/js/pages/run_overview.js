// The run page's overview: code (git + diff), command, seeds, runtime, hardware, fingerprint
// and the `labledger check` verdict.
import { api } from "../api.js";
import { errorBox, h, mount } from "../dom.js";
import { fmtBytes, fmtDuration, fmtTime, fmtValue } from "../format.js";
import { diffView } from "../components/diffview.js";

function kv(rows) {
  return h("table.kv", null, h("tbody", null,
    rows.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => h("tr", null, h("td", null, k), h("td", null, v instanceof Node ? v : fmtValue(v))))));
}

function panel(title, content) {
  return h("section.panel", { dataset: { panel: title.toLowerCase() } }, h("h2", null, title), content);
}

function gitPanel(git) {
  if (!git || git.present === false) return panel("Code", h("p.muted", null, git?.reason || "not a git repository"));
  const diff = git.diff ? h("details", null, h("summary", null, "uncommitted changes"), diffView(git.diff)) : null;
  return panel("Code", h("div", null,
    kv([
      ["commit", git.commit ? h("code", null, git.commit) : null],
      ["branch", git.branch],
      ["remote", git.remote || git.remote_url],
      ["state", git.dirty ? "uncommitted changes" : "clean"],
      ["untracked files", (git.untracked || []).map((u) => u.path || u).join(", ")],
    ]),
    diff));
}

function commandPanel(command, determinism, seeds) {
  const argv = command?.argv;
  return panel("Command and seeds", kv([
    ["command", argv ? h("code", null, argv.join(" ")) : null],
    ["working directory", command?.cwd],
    ["python", command?.executable || command?.python],
    ...Object.entries(seeds || {}).map(([k, v]) => [`seed ${k}`, v]),
    ...Object.entries(determinism || {}).map(([k, v]) => [k, v]),
  ]));
}

function hardwarePanel(host, gpu) {
  const gpus = Array.isArray(gpu?.devices) ? gpu.devices : Array.isArray(gpu) ? gpu : [];
  return panel("Hardware", kv([
    ["host", host?.hostname],
    ["os", host?.platform || host?.os],
    ["cpu", host?.cpu_model],
    ["cpus", host?.cpu_count_logical ? `${host.cpu_count_logical} logical, ${host.cpu_count_physical ?? "?"} physical, ${host.cpu_count_usable ?? "?"} usable` : null],
    ["memory", fmtBytes(host?.memory_total_bytes)],
    ["gpus", gpus.length ? gpus.map((g) => g.name || fmtValue(g)).join(", ") : gpu?.reason || "none"],
    ["cuda", gpu?.cuda_version || gpu?.cuda],
  ]));
}

function checkPanel(runId) {
  const box = h("div", null, h("p.muted", null, "checking…"));
  api.check(runId).then((report) => {
    const verdict = report.verdict || (report.passed ? "pass" : "fail");
    mount(box,
      h("p", { id: "check-verdict", dataset: { verdict } },
        h("strong", { class: `status status-${verdict === "pass" ? "finished" : verdict === "warn" ? "killed" : "failed"}` }, verdict)),
      h("table.grid", null, h("tbody", null, (report.items || []).map((item) =>
        h("tr", null,
          h("td", null, item.status), h("td", null, item.name),
          h("td", null, item.detail || item.message || "", item.fix ? h("div.muted", null, `fix: ${item.fix}`) : null))))));
  }, (error) => mount(box, errorBox(error)));
  return panel("Reproducibility check", box);
}

export function overview(run, capturesPromise) {
  const box = h("div.overview");
  const summary = panel("Run", kv([
    ["status", run.status],
    ["reason", run.error ? h("pre.error", null, run.error) : null],
    ["exit code", run.exit_code],
    ["created", fmtTime(run.created_at)],
    ["ended", fmtTime(run.ended_at)],
    ["runtime", fmtDuration(run.runtime)],
    ["host / pid", run.host ? `${run.host} / ${run.pid ?? ""}` : null],
    ["fingerprint", run.fingerprint ? h("code", null, run.fingerprint) : null],
    ["reproduces", run.reproduces ? h("a", { href: `/run/${encodeURIComponent(run.reproduces)}` }, run.reproduces) : null],
    ...Object.entries(run.final_metrics || {}).slice(0, 20).map(([k, v]) => [k, v]),
  ]));
  const rest = h("div.overview-rest");
  box.append(h("div.charts", null, summary, checkPanel(run.run_id || run.id)), rest);
  capturesPromise.then((c) => {
    mount(rest, h("div.charts", null,
      gitPanel(c.git),
      commandPanel(c.command, c.determinism, c.seeds),
      hardwarePanel(c.host, c.gpu)));
  });
  return box;
}
