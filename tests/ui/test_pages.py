"""The pages driven as a person would in headless Chromium, against a real server process."""

from __future__ import annotations

import re
from typing import Any

from tests.ui.conftest import PROJECT, Server, Watched, coloured_pixels, drawn_pixels

XSS = "<img src=x onerror=alert(1)>"


def rows(page: Any) -> Any:
    return page.locator(".vtable-body .vtable-row[data-id]")


def open_runs(page: Any, server: Server, query: str = "", wait: str = "") -> None:
    page.goto(f"{server.url}/runs?project={PROJECT}{query}")
    (page.locator(wait) if wait else rows(page)).first.wait_for()


def test_runs_table_filters_sorts_and_picks_columns(ui_page: Any, server: Server) -> None:
    page = ui_page
    open_runs(page, server)
    assert rows(page).count() == 13
    assert page.locator("#run-count").inner_text() == "(13)"

    box = page.get_by_label("filter")
    box.fill("config.optimizer = 'adam'")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#run-count').textContent === '(6)'")
    # The count is set when the response arrives; the rows are drawn on the next frame.
    page.wait_for_function(
        "document.querySelectorAll('.vtable-body .vtable-row[data-id]').length === 6"
    )
    assert "filter=config.optimizer" in page.url

    box.fill("config.lr > ")
    box.press("Enter")
    error = page.locator(".filter-error")
    error.wait_for()
    lines = error.inner_text().split("\n")
    assert lines[0].rstrip() == "config.lr >" and lines[1].endswith("^") and len(lines) == 3
    assert lines[2]  # the parser's message

    box.fill("")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#run-count').textContent === '(13)'")
    page.locator(".vtable-head .cell[data-column=name]").click()
    page.wait_for_url(re.compile(r"sort=name"))
    page.wait_for_function(
        "document.querySelector('.vtable-body .vtable-row[data-id] .cell:nth-child(3)')"
        "?.textContent === '<img src=x onerror=alert(1)>'"
    )
    names = rows(page).locator(".cell:nth-child(3)").all_inner_texts()
    assert names == sorted(names)
    page.locator(".vtable-head .cell[data-column=name]").click()
    page.wait_for_url(re.compile(r"sort=-name"))

    page.get_by_role("button", name="Columns").click()
    page.get_by_label("search columns").fill("train/loss.min")
    page.locator(".picker-menu input[value='metrics.train/loss.min']").check()
    header = page.locator(".vtable-head .cell[data-column='metrics.train/loss.min']")
    header.wait_for()
    assert "columns=" in page.url
    # the URL restores the view: same filter, sort and columns after a reload
    page.reload()
    header.wait_for()
    assert (
        page.locator(".vtable-head .cell[data-column=name]")
        .get_attribute("class")
        .endswith("sorted-desc")
    )


def test_grouping_shows_counts_and_mean(ui_page: Any, server: Server) -> None:
    page = ui_page
    open_runs(
        page, server, "&group=config.optimizer&gmetric=metrics.val/acc.last", wait=".group-head"
    )
    heads = page.locator(".group-head")
    heads.first.wait_for()
    texts = heads.all_inner_texts()
    assert any("optimizer = adam" in t and "6 runs" in t and "±" in t for t in texts), texts
    heads.filter(has_text="optimizer = adam").click()
    page.locator(".group-body .vtable-row").first.wait_for()
    assert page.locator(".group-body .vtable-row").count() == 6


def test_run_page_draws_charts_and_console(ui_page: Any, server: Server) -> None:
    page = ui_page
    open_runs(page, server, "&filter=name = 'adam-lr0.1-s1'")
    rows(page).first.locator("a").click()
    page.wait_for_url(re.compile(r"/run/"))
    chart = page.locator(".chart[data-key='val/acc']")
    chart.wait_for()
    page.wait_for_function(
        "document.querySelector(\".chart[data-key='val/acc']\").dataset.points === '60'"
    )
    assert coloured_pixels(page, ".chart[data-key='val/acc'] canvas") > 100
    assert (
        page.locator(".chart-group[data-prefix=train] .chart[data-key='train/loss']").count() == 1
    )

    page.locator(".tabs a[data-tab=config]").click()
    page.get_by_placeholder("search config").fill("layers")
    page.locator(".tree li").filter(has_text="model.layers").wait_for()

    page.locator(".tabs a[data-tab=console]").click()
    line = page.locator("pre.console span span", has_text="done")
    line.first.wait_for()
    assert line.first.evaluate("el => getComputedStyle(el).color") != "rgb(229, 231, 235)"


def test_compare_three_runs(ui_page: Any, server: Server) -> None:
    page = ui_page
    open_runs(page, server, "&filter=config.lr = 0.1 and config.seed = 1 or name = 'sgd-lr0.01-s2'")
    assert rows(page).count() == 3
    for checkbox in rows(page).locator("input[type=checkbox]").all():
        checkbox.check()
    page.locator("#compare-link").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    pc = page.locator("canvas.pc[data-lines='3']")
    pc.wait_for()
    assert pc.get_attribute("data-axes") == "4"  # lr, optimizer, seed + the metric
    assert drawn_pixels(page, "canvas.pc") > 1000
    page.locator(".chart").first.wait_for()
    page.wait_for_function("document.querySelector('.chart')?.dataset.drawn")
    assert coloured_pixels(page, ".chart canvas") > 50
    page.locator("#diff-table tr[data-section=config]").first.wait_for()
    keys = page.locator("#diff-table tr[data-section=config] td:first-child").all_inner_texts()
    assert {"optimizer", "lr", "seed"} <= set(keys), keys

    # brushing the metric axis keeps only some runs and the URL remembers it
    box = pc.bounding_box()
    x = box["x"] + box["width"] - 60
    page.mouse.move(x, box["y"] + 36)
    page.mouse.down()
    page.mouse.move(x, box["y"] + 120, steps=5)
    page.mouse.up()
    page.wait_for_url(re.compile(r"brush="))
    assert "of 3 runs" in page.locator("#brushed-count").inner_text()


def test_malicious_run_name_is_text(watched: Watched, server: Server) -> None:
    page = watched.page
    open_runs(page, server, "&filter=config.lr = 0.5")
    row = rows(page).first
    assert row.locator("a").inner_text() == XSS
    assert row.locator(".tag").inner_text() == XSS
    run_id = row.get_attribute("data-id")
    page.goto(f"{server.url}/run/{run_id}?tab=console")
    page.locator("pre.console", has_text=XSS).wait_for()
    assert XSS in page.locator("h1").inner_text()
    page.goto(f"{server.url}/run/{run_id}?tab=config")
    page.locator(".tree", has_text=XSS).wait_for()
    page.wait_for_timeout(300)
    assert page.locator("img").count() == 0
    assert watched.dialogs == []
    assert watched.errors == []


def test_importance_shows_intervals(ui_page: Any, server: Server) -> None:
    page = ui_page
    page.goto(f"{server.url}/importance?project={PROJECT}&metric=val/acc&filter=config.lr < 0.5")
    table = page.locator("#importance-table tbody tr")
    table.first.wait_for()
    assert table.count() >= 3
    assert page.locator(".bar-ci").count() >= 3
    assert "random forest" in page.locator("#method").inner_text()
    cells = table.first.locator("td").all_inner_texts()
    assert re.match(r"\[.+, .+\]", cells[3]), cells


def test_is_it_real_says_a_sentence(ui_page: Any, server: Server) -> None:
    page = ui_page
    page.goto(
        f"{server.url}/significance?project={PROJECT}&metric=val/acc&by=config.optimizer"
        "&filter=config.lr < 0.5"
    )
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert verdict.get_attribute("data-verdict") in {"real", "noise", "insufficient"}
    assert "val/acc" in verdict.inner_text()
    assert page.locator("#significance-table tbody tr").count() == 2
