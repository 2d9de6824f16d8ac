// Small renderers shared by pages: status badges, tags, run links.
import { h, link } from "../dom.js";

export function statusBadge(status, title) {
  return h(`span.status.status-${String(status).replace(/[^a-z]/g, "")}`, { title: title || null, dataset: { status } }, status);
}

export function tagList(tags) {
  return (tags || []).map((t) => h("span.tag", null, t));
}

export function runLink(run, label) {
  return link(`/run/${encodeURIComponent(run.id || run.run_id || run)}`, {}, label ?? run.name ?? run.id ?? run);
}
