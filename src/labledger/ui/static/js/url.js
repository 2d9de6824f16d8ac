// The view's state lives in the query string: read it, and write it back without reloading.

export function params() {
  return new URLSearchParams(location.search);
}

export function get(name, fallback = "") {
  const value = params().get(name);
  return value === null ? fallback : value;
}

export function getList(name) {
  const value = params().get(name);
  return value ? value.split(",").filter(Boolean) : [];
}

export function getBool(name, fallback = false) {
  const value = params().get(name);
  return value === null ? fallback : value === "1" || value === "true";
}

/** Merge values into the query string (null/""/[] removes a key); replaces the history entry. */
export function update(values) {
  const query = params();
  for (const [key, value] of Object.entries(values)) {
    const text = Array.isArray(value) ? value.join(",") : value === true ? "1" : value === false ? "" : value;
    if (text === null || text === undefined || text === "") query.delete(key);
    else query.set(key, String(text));
  }
  const search = query.toString();
  history.replaceState(null, "", search ? `${location.pathname}?${search}` : location.pathname);
}
