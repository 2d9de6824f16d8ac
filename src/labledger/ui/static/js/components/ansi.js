// ANSI SGR colour codes to spans. The text itself always goes in as text nodes.
import { h } from "../dom.js";

const COLORS = ["#4b5563", "#f87171", "#4ade80", "#facc15", "#60a5fa", "#e879f9", "#22d3ee", "#e5e7eb"];
const BRIGHT = ["#9ca3af", "#fca5a5", "#86efac", "#fde047", "#93c5fd", "#f0abfc", "#67e8f9", "#ffffff"];
const SGR = /\x1b\[([0-9;]*)m/g;
const OTHER = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r(?!\n)/g;

function styleFor(state) {
  const style = {};
  if (state.fg) style.color = state.fg;
  if (state.bg) style.backgroundColor = state.bg;
  if (state.bold) style.fontWeight = "bold";
  if (state.underline) style.textDecoration = "underline";
  return style;
}

function apply(state, codes) {
  const list = codes === "" ? [0] : codes.split(";").map(Number);
  for (let i = 0; i < list.length; i += 1) {
    const c = list[i];
    if (c === 0) Object.assign(state, { fg: null, bg: null, bold: false, underline: false });
    else if (c === 1) state.bold = true;
    else if (c === 4) state.underline = true;
    else if (c === 22) state.bold = false;
    else if (c === 24) state.underline = false;
    else if (c >= 30 && c <= 37) state.fg = COLORS[c - 30];
    else if (c === 39) state.fg = null;
    else if (c >= 40 && c <= 47) state.bg = COLORS[c - 40];
    else if (c === 49) state.bg = null;
    else if (c >= 90 && c <= 97) state.fg = BRIGHT[c - 90];
    else if (c >= 100 && c <= 107) state.bg = BRIGHT[c - 100];
    else if ((c === 38 || c === 48) && list[i + 1] === 2) {
      const rgb = `rgb(${list[i + 2] | 0}, ${list[i + 3] | 0}, ${list[i + 4] | 0})`;
      if (c === 38) state.fg = rgb;
      else state.bg = rgb;
      i += 4;
    } else if ((c === 38 || c === 48) && list[i + 1] === 5) {
      const n = list[i + 2] | 0;
      const rgb = n < 8 ? COLORS[n] : n < 16 ? BRIGHT[n - 8] : null;
      if (c === 38) state.fg = rgb;
      else state.bg = rgb;
      i += 2;
    }
  }
}

/** Text with ANSI codes -> DOM nodes; `needle` matches are wrapped in <mark>. */
export function ansiNodes(text, state = {}, needle = "") {
  const nodes = [];
  let last = 0;
  const push = (chunk) => {
    const clean = chunk.replace(OTHER, "");
    if (!clean) return;
    const style = styleFor(state);
    const target = Object.keys(style).length ? h("span", { style }) : null;
    const parts = highlight(clean, needle);
    if (target) {
      target.append(...parts);
      nodes.push(target);
    } else nodes.push(...parts);
  };
  for (const match of text.matchAll(SGR)) {
    push(text.slice(last, match.index));
    apply(state, match[1]);
    last = match.index + match[0].length;
  }
  push(text.slice(last));
  return nodes;
}

function highlight(text, needle) {
  if (!needle) return [document.createTextNode(text)];
  const out = [];
  const lower = text.toLowerCase();
  const n = needle.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(n); i !== -1; i = lower.indexOf(n, at)) {
    if (i > at) out.push(document.createTextNode(text.slice(at, i)));
    out.push(h("mark", null, text.slice(i, i + n.length)));
    at = i + n.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}
