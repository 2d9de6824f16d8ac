// Login page (team server): user name and password -> an HttpOnly, SameSite=Strict session
// cookie set by POST /api/auth/login; then back to ?next (a local path) or the projects page.
import { h, mount } from "../dom.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // only same-site paths: "/runs?..." yes, "//evil.example" or "https://..." no
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export async function render(root) {
  const user = h("input", { name: "user", autocomplete: "username", required: true });
  const password = h("input", {
    name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const message = h("p.error", { role: "alert" });
  const submit = h("button", { type: "submit" }, "Log in");

  async function login(event) {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = "";
    try {
      const response = await fetch("/api/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ user: user.value, password: password.value }),
      });
      if (response.ok) {
        location.assign(nextPath());
        return;
      }
      const body = await response.json().catch(() => null);
      message.textContent = (body && body.error && body.error.message) || `HTTP ${response.status}`;
    } catch (error) {
      message.textContent = String(error);
    } finally {
      submit.disabled = false;
    }
  }

  mount(root,
    h("h1", null, "Log in"),
    h("form.login", { onsubmit: login },
      h("label", null, "User ", user),
      h("label", null, "Password ", password),
      submit,
      message),
    h("p.note", null,
      "Scripts and the command line use API tokens instead: labledger login URL."));
  user.focus();
}
