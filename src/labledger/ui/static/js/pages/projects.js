// Projects: run counts, last activity and a sparkline of runs per day.
import { api } from "../api.js";
import { h, link, mount } from "../dom.js";
import { fmtAgo, fmtTime } from "../format.js";
import { perDay, sparkline } from "../components/sparkline.js";

export async function render(root) {
  const projects = await api.projects();
  if (!projects.length) {
    mount(root, h("h1", null, "Projects"),
      h("p.note", null, "No runs yet. Call labledger.init(project=...) in a training script."));
    return;
  }
  const rows = projects.map((p) =>
    h("tr", null,
      h("td", null, link("/runs", { project: p.name }, p.name)),
      h("td.num", null, p.runs),
      h("td.num", null, p.running || 0),
      h("td", { title: fmtTime(p.last_activity) }, fmtAgo(p.last_activity)),
      h("td", { title: "runs per day, last 30 days" }, sparkline(perDay(p.runs_per_day || []))),
      h("td", null,
        link("/compare", { project: p.name }, "compare"), " · ",
        link("/importance", { project: p.name }, "importance"), " · ",
        link("/significance", { project: p.name }, "is it real?")),
    ));
  mount(root,
    h("h1", null, "Projects"),
    h("table.grid.projects", null,
      h("thead", null, h("tr", null,
        h("th", null, "Project"), h("th.num", null, "Runs"), h("th.num", null, "Running"),
        h("th", null, "Last activity"), h("th", null, "Runs per day (30 days)"), h("th", null, ""))),
      h("tbody", null, rows)));
}
