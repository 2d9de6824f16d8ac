// Entry point: picks the page module from the path; every page renders into <main id="page">.
import { h, mount, errorBox } from "./dom.js";
import { setProject } from "./nav.js";
import * as url from "./url.js";

const PAGES = [
  [/^\/$/, "projects"],
  [/^\/runs\/?$/, "runs"],
  [/^\/run\/([^/]+)\/?$/, "run"],
  [/^\/compare\/?$/, "compare"],
  [/^\/importance\/?$/, "importance"],
  [/^\/significance\/?$/, "significance"],
  [/^\/login\/?$/, "login"],
];

// A team server answers 401 until the browser logs in: go to the login page, then come back.
function toLogin() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}`);
}

async function main() {
  const root = document.getElementById("page");
  setProject(url.get("project"));
  for (const [pattern, name] of PAGES) {
    const match = location.pathname.match(pattern);
    if (!match) continue;
    try {
      const page = await import(`./pages/${name}.js`);
      mount(root);
      await page.render(root, ...match.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (error && error.status === 401 && name !== "login") return toLogin();
      console.error(error);
      mount(root, errorBox(error));
    }
    return;
  }
  mount(root, h("p", null, "No such page. "), h("a", { href: "/" }, "Projects"));
}

main();
