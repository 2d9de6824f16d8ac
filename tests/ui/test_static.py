"""The shipped front end: local files only, vendored code recorded, no HTML built from data."""

from __future__ import annotations

import re
from pathlib import Path

from labledger.ui import STATIC_DIR

ROOT = Path(__file__).parents[2]


def sources() -> list[Path]:
    return sorted((STATIC_DIR / "js").rglob("*.js"))


def test_pages_load_nothing_from_other_origins() -> None:
    for path in [STATIC_DIR / "index.html", STATIC_DIR / "css" / "app.css", *sources()]:
        text = path.read_text()
        assert not re.search(r"""(src|href|import|url)\s*[=(]?\s*["'(]?(https?:)?//""", text), path


def test_no_html_is_built_from_strings() -> None:
    for path in sources():
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.name} uses {sink}"


def test_every_module_import_resolves() -> None:
    for path in sources():
        for target in re.findall(r"""from\s+["'](\.[^"']+)["']""", path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{path.name}: {target}"


def test_vendored_uplot_is_recorded() -> None:
    header = (STATIC_DIR / "vendor" / "uplot" / "uPlot.esm.js").read_text()[:1000]
    match = re.search(r"uPlot \(v([\d.]+)\)", header)
    assert match, "the vendored uPlot names its version in its header"
    version = match.group(1)
    assert f"uPlot {version}" in (ROOT / "THIRD_PARTY").read_text()
    assert f"| uPlot | {version} | MIT" in (STATIC_DIR / "vendor" / "THIRD_PARTY.md").read_text()
    assert (STATIC_DIR / "vendor" / "uplot" / "LICENSE").read_text().startswith("The MIT License")
