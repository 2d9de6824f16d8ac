// The top bar: links between the pages, kept inside the current project.
import { h, mount } from "./dom.js";

function links(project) {
  const items = [["/", "Projects"]];
  if (project) {
    const q = `?project=${encodeURIComponent(project)}`;
    items.push(
      [`/runs${q}`, "Runs"],
      [`/compare${q}`, "Compare"],
      [`/importance${q}`, "Importance"],
      [`/significance${q}`, "Is it real?"],
    );
  }
  return items.map(([path, label]) =>
    h("a", { href: path, class: location.pathname === path.split("?")[0] ? "active" : null }, label),
  );
}

/** Pages call this once they know the project, so the top bar links stay in it. */
export function setProject(project) {
  const nav = document.getElementById("nav");
  if (project) nav.dataset.project = project;
  mount(nav, links(project));
  document.title = project ? `${project} · labledger` : "labledger";
}
