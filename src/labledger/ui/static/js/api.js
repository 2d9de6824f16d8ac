// The one client of the JSON API (docs/http-api.md); every page goes through it.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.position = error.position ?? null;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function request(path, { params, body, signal } = {}) {
  const init = { signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api${path}${query(params)}`, init);
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await response.json();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const enc = encodeURIComponent;

export const api = {
  projects: () => request("/projects"),
  keys: (project) => request(`/projects/${enc(project)}/keys`),
  /** {project, filter, sort, offset, limit, columns} -> {total, offset, columns, rows} */
  runs: (params, signal) => request("/runs", { params, signal }),
  groups: (params, signal) => request("/runs/groups", { params, signal }),
  run: (id) => request(`/runs/${enc(id)}`),
  captures: (id) => request(`/runs/${enc(id)}/captures`),
  check: (id) => request(`/runs/${enc(id)}/check`),
  metrics: (id) => request(`/runs/${enc(id)}/metrics`),
  /** {key, points, start, end} -> {key, total, downsampled, steps, values, min, max, times} */
  series: (id, params, signal) => request(`/runs/${enc(id)}/series`, { params, signal }),
  /** {runs, keys, points, start, end} -> [{run, key, ...series}] */
  manySeries: (body, signal) => request("/series", { body, signal }),
  output: (id, params) => request(`/runs/${enc(id)}/output`, { params }),
  artifacts: (id) => request(`/runs/${enc(id)}/artifacts`),
  reproductions: (id) => request(`/runs/${enc(id)}/reproductions`),
  projectArtifacts: (project) => request("/artifacts", { params: { project } }),
  lineage: (name, version) => request(`/artifacts/${enc(name)}/lineage`, { params: { version } }),
  artifactFileUrl: (name, version, path) =>
    `/api/artifacts/${enc(name)}/v${enc(version)}/files/${path.split("/").map(enc).join("/")}`,
  diff: (runs) => request("/diff", { params: { runs } }),
  importance: (params) => request("/importance", { params }),
  significance: (params) => request("/significance", { params }),
  /** Server-sent events of a running run: points, output, status. Returns the EventSource. */
  live: (id, handlers) => {
    const source = new EventSource(`/api/live/runs/${enc(id)}`);
    for (const [event, handler] of Object.entries(handlers)) {
      source.addEventListener(event, (message) => handler(JSON.parse(message.data)));
    }
    return source;
  },
};

/** Quote a value for the filter language. */
export function quote(value) {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `'${String(value).replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
