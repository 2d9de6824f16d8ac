// A unified diff (git diff output) rendered line by line with added/removed colours.
import { h } from "../dom.js";

export function diffView(text) {
  const pre = h("pre.diff");
  for (const line of String(text).split("\n")) {
    let cls = null;
    if (line.startsWith("diff --git") || line.startsWith("+++") || line.startsWith("---")) cls = "file";
    else if (line.startsWith("@@")) cls = "hunk";
    else if (line.startsWith("+")) cls = "add";
    else if (line.startsWith("-")) cls = "del";
    pre.append(cls ? h(`span.${cls}`, null, line) : document.createTextNode(`${line}\n`));
  }
  return pre;
}
