// The filter-language box: applies on Enter or a pause in typing, and shows the server's parse
// error under the text with a caret at the column the parser points to.
import { debounce, h } from "../dom.js";

export function filterBox(value, onApply) {
  const input = h("input", {
    type: "text",
    value: value || "",
    spellcheck: false,
    placeholder: "filter, e.g.  metrics.acc > 0.9 and config.optimizer = 'adam'",
    "aria-label": "filter",
  });
  const error = h("div.filter-error", { role: "alert", hidden: true });
  const box = h("div.filter", null, input, error);
  let last = input.value;
  const apply = () => {
    if (input.value === last) return;
    last = input.value;
    onApply(input.value.trim());
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") apply();
  });
  input.addEventListener("input", debounce(apply, 500));
  return {
    element: box,
    input,
    /** Show an ApiError (or clear with null); `position` is the 0-based column of the error. */
    setError(err) {
      if (!err) {
        error.hidden = true;
        error.textContent = "";
        input.classList.remove("invalid");
        return;
      }
      input.classList.add("invalid");
      error.hidden = false;
      const lines = [];
      if (Number.isInteger(err.position)) {
        lines.push(input.value);
        lines.push(`${" ".repeat(err.position)}^`);
      }
      lines.push(err.message);
      error.textContent = lines.join("\n");
    },
  };
}
