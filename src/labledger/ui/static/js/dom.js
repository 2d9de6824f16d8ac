// DOM helpers. Every piece of data becomes a text node or an attribute set through the DOM,
// never HTML: escaping is structural, not a discipline each page has to remember.

/** h("a.link#id", {href, onclick}, child, ...): an element; strings and numbers become text. */
export function h(tag, attrs, ...children) {
  const [head, id] = tag.split("#");
  const [name, ...classes] = head.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (id) el.id = id;
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A link to a page of this app with the given query parameters. */
export function link(path, params, ...children) {
  return h("a", { href: href(path, params) }, ...children);
}

export function href(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    query.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** A section with a heading. */
export function section(title, ...children) {
  return h("section.panel", null, h("h2", null, title), ...children);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A search box that calls onInput(text) as the user types (debounced). */
export function searchBox(placeholder, value, onInput) {
  const input = h("input.search", { type: "search", placeholder, value: value || "" });
  input.addEventListener("input", debounce(() => onInput(input.value), 150));
  return input;
}

export function errorBox(error) {
  return h("div.error", { role: "alert" }, error?.message || String(error));
}
