// Lineage graph (run -> artifact -> run) as layered SVG: nodes in columns by depth, edges as
// curves. Labels are SVG text nodes set through textContent.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const nodeId = (n) => String(n.id ?? n.key ?? n.name);
const nodeLabel = (n) => String(n.label ?? n.name ?? n.id);
const nodeKind = (n) => String(n.kind ?? n.type ?? "");

/** graph: {nodes: [{id, kind: "run"|"artifact", label}], edges: [{source, target}]} */
export function lineageGraph(graph, { onNode } = {}) {
  const nodes = graph.nodes || [];
  const edges = (graph.edges || []).map((e) => [String(e.source ?? e.from ?? e[0]), String(e.target ?? e.to ?? e[1])]);
  const depth = new Map(nodes.map((n) => [nodeId(n), 0]));
  for (let pass = 0; pass < nodes.length; pass += 1) {
    let changed = false;
    for (const [a, b] of edges) {
      const d = (depth.get(a) ?? 0) + 1;
      if (depth.has(b) && depth.get(b) < d && d < nodes.length) {
        depth.set(b, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = [];
  for (const n of nodes) {
    const d = depth.get(nodeId(n));
    (columns[d] ||= []).push(n);
  }
  const W = 190;
  const H = 34;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(nodeId(n), [20 + x * (W + 50), 10 + y * (H + 14)])));
  const width = 40 + columns.length * (W + 50);
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + 14);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "lineage graph" });
  for (const [a, b] of edges) {
    if (!pos.has(a) || !pos.has(b)) continue;
    const [x1, y1] = pos.get(a);
    const [x2, y2] = pos.get(b);
    const sx = x1 + W;
    const sy = y1 + H / 2;
    const ty = y2 + H / 2;
    svg.append(el("path", { d: `M${sx},${sy} C${sx + 25},${sy} ${x2 - 25},${ty} ${x2},${ty}`, fill: "none", stroke: "#9ca3af", "stroke-width": 1.5 }));
  }
  for (const n of nodes) {
    const [x, y] = pos.get(nodeId(n));
    const isRun = nodeKind(n) === "run";
    const g = el("g", { transform: `translate(${x},${y})`, class: "lineage-node" });
    g.append(el("rect", { width: W, height: H, rx: isRun ? 4 : 14, fill: isRun ? "#dbeafe" : "#fef3c7", stroke: n.current ? "#111827" : "#9ca3af" }));
    const label = nodeLabel(n);
    g.append(el("text", { x: 8, y: 14 }, nodeKind(n) || "node"));
    g.append(el("text", { x: 8, y: 27, "font-weight": 600 }, label.length > 28 ? `${label.slice(0, 27)}…` : label));
    g.append(el("title", {}, label));
    if (onNode) {
      g.style.cursor = "pointer";
      g.addEventListener("click", () => onNode(n));
    }
    svg.append(g);
  }
  return svg;
}
