from __future__ import annotations

import json

import labledger as ll
from tests.cli.conftest import invoke, make_run


def _ids_in_table(output: str, ids: list[str]) -> list[str]:
    """The given run IDs in the order their rows appear in a table."""
    rows = [line.split()[0] for line in output.splitlines() if line.strip()]
    return [row for row in rows if row in ids]


def test_ls_lists_newest_first_with_varying_config_and_metrics() -> None:
    old = make_run(config={"lr": 0.1, "seed": 1}, metrics=[{"acc": 0.5}], name="old")
    new = make_run(config={"lr": 0.01, "seed": 1}, metrics=[{"acc": 0.7}], name="new")
    result = invoke("runs", "ls")
    assert result.exit_code == 0, result.output
    assert _ids_in_table(result.stdout, [old, new]) == [new, old]
    header = result.stdout.splitlines()[0].split()
    # one project: its column would be the same on every row
    assert header[:5] == ["id", "name", "status", "created", "runtime"]
    assert "lr" in header and "acc" in header
    assert "seed" not in header  # the same in every listed run
    assert "finished" in result.stdout


def test_ls_filter_and_sort_order() -> None:
    runs = {
        acc: make_run(config={"opt": opt}, metrics=[{"acc": acc}])
        for acc, opt in [(0.5, "adam"), (0.9, "adam"), (0.7, "sgd"), (0.8, "adam")]
    }
    result = invoke("runs", "ls", "--filter", "config.opt = 'adam'", "--sort", "-metrics.acc")
    assert result.exit_code == 0, result.output
    assert _ids_in_table(result.stdout, list(runs.values())) == [runs[0.9], runs[0.8], runs[0.5]]

    ascending = invoke("runs", "ls", "-f", "metrics.acc >= 0.7", "-s", "metrics.acc", "--json")
    lines = [json.loads(line) for line in ascending.stdout.splitlines()]
    assert [r["metrics"]["acc"] for r in lines] == [0.7, 0.8, 0.9]


def test_ls_json_lines_are_complete_records() -> None:
    run_id = make_run(
        config={"model": {"layers": 2}}, metrics=[{"loss": 1.0}, {"loss": 0.5}], tags=["baseline"]
    )
    result = invoke("runs", "ls", "--json")
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["run_id"] == run_id
    assert record["status"] == "finished"
    assert record["config"] == {"model": {"layers": 2}}
    assert record["metrics"] == {"loss": 0.5}
    assert record["tags"] == ["baseline"]
    assert isinstance(record["created_at"], float)


def test_ls_project_limit_and_columns() -> None:
    for i in range(3):
        make_run(project="a", config={"lr": i}, metrics=[{"acc": i / 10}])
    make_run(project="b")
    result = invoke("runs", "ls", "-p", "a", "-n", "2", "-c", "id,config.lr,metrics.acc")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].split() == ["id", "lr", "acc"]
    assert len([line for line in lines if line.split()[-1].startswith("0.")]) == 2
    assert "showing 2 of 3 runs" in result.stderr  # piped: notes apart from the table


def test_ls_bad_filter_is_a_one_line_error() -> None:
    make_run()
    result = invoke("runs", "ls", "--filter", "accuracy > 0.9")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "unknown field 'accuracy'" in result.stderr
    assert "metrics.KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    syntax = invoke("runs", "ls", "--filter", "metrics.acc >")
    assert syntax.exit_code == 1
    assert "expected" in syntax.stderr and "Traceback" not in syntax.output


def test_ls_unknown_column_is_a_usage_error() -> None:
    make_run()
    result = invoke("runs", "ls", "--columns", "id,bogus")
    assert result.exit_code == 2
    assert "unknown column 'bogus'" in result.stderr


def test_ls_with_no_store_explains_where_it_looked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("runs", "ls")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no labledger store at")
    assert not (tmp_path / "store").exists()  # reading never creates a store


def test_ls_empty_result_says_so() -> None:
    make_run()
    result = invoke("runs", "ls", "-f", "status = 'failed'")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No runs match" in result.stderr


def test_user_text_is_not_rich_markup() -> None:
    make_run(config={"note": "[red]literal[/red]", "x": 1}, name="[bold]n")
    make_run(config={"note": "plain", "x": 2})
    result = invoke("runs", "ls")
    assert "[red]literal[/red]" in result.stdout
    assert "[bold]n" in result.stdout


def test_projects_lists_counts() -> None:
    make_run(project="digits")
    latest = make_run(project="digits")
    make_run(project="mnist")
    result = invoke("projects", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["project"], r["runs"]) for r in rows] == [("digits", 2), ("mnist", 1)]
    assert rows[0]["latest_run"] == latest
    table = invoke("projects")
    assert "digits" in table.stdout and "mnist" in table.stdout


def test_help_has_examples() -> None:
    for command in (
        ["runs", "ls"],
        ["runs", "show"],
        ["runs", "diff"],
        ["export"],
        ["projects"],
        ["runs"],
    ):
        result = invoke(*command, "--help")
        assert result.exit_code == 0
        assert "Examples:" in result.stdout, command


def test_ls_caps_columns_to_the_width_and_says_what_it_hid() -> None:
    for i in range(2):
        make_run(
            config={f"param_{k:02d}": i * 1000 + k for k in range(30)},
            metrics=[{"accuracy_on_validation": 0.5 + i / 10}],
        )
    result = invoke("runs", "ls", "--sort", "-metrics.accuracy_on_validation")
    header = result.stdout.splitlines()[0].split()
    assert header[:2] == ["id", "status"]
    assert "accuracy_on_validation" in header  # named in --sort, so kept first
    assert "param_00" in header and "param_29" not in header
    assert max(len(line) for line in result.stdout.splitlines()) <= 200
    assert "more columns (config.param_" in result.stderr


def test_ls_on_80_columns_shows_the_sorted_metric_and_config() -> None:
    import io

    from rich.console import Console

    import labledger as ll
    from labledger.cli.runs import auto_columns, runs_table

    for i in range(3):
        make_run(
            config={"optimizer": ["adam", "sgd", "adam"][i], "lr": 0.1 * (i + 1), "epochs": 5},
            metrics=[{"f1": 0.5 + i / 10, "loss": 1.0 - i / 10, "val/acc": 0.7}],
            name=f"run-{i}",
        )
    runs = ll.Api().runs("digits", order_by="-metrics.f1")
    columns, _ = auto_columns(runs, [("metrics", "f1")], 80)
    out = io.StringIO()
    Console(file=out, width=80, soft_wrap=False).print(runs_table(runs, columns))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    header = lines[0].split()
    assert header[:2] == ["id", "name"] and "f1" in header
    assert "lr" in header or "optimizer" in header
    assert "project" not in header


def test_reproductions_are_hidden_unless_asked_for() -> None:
    import labledger as ll

    original = make_run(name="orig")
    with ll.init(project="p", name="again", reproduces=original, capture=False):
        pass
    shown = invoke("runs", "ls").stdout
    assert "orig" in shown and "again" not in shown
    everything = invoke("runs", "ls", "--include-reproductions").stdout
    assert "again" in everything and "↻" in everything


def test_an_unknown_key_warns_with_the_closest_keys() -> None:
    make_run(config={"optimizer": "adam"}, metrics=[{"val/acc": 0.9}])
    result = invoke("runs", "ls", "--sort", "-metrics.val/accc")
    assert result.exit_code == 0
    assert "no run has metrics.val/accc; closest: metrics.val/acc" in result.stderr
    strict = invoke("runs", "ls", "-f", "config.optimiser = 'adam'", "--strict")
    assert strict.exit_code == 1 and "closest: config.optimizer" in strict.output


def test_an_unquoted_word_suggests_quotes() -> None:
    make_run(config={"optimizer": "adam"})
    result = invoke("runs", "ls", "-f", "config.optimizer = adam")
    assert result.exit_code != 0
    assert "quote text values, as in 'adam'" in result.output


def test_sort_accepts_the_column_names() -> None:
    make_run(name="first")
    make_run(name="second")
    result = invoke("runs", "ls", "--sort", "created")
    assert result.exit_code == 0, result.output
    assert result.stdout.index("first") < result.stdout.index("second")


def test_sort_and_filter_accept_runtime_id_and_created() -> None:
    import time

    quick = make_run(name="quick")
    with ll.init(project="digits", capture=False, name="slow") as run:
        time.sleep(0.3)
        slow = run.id
    result = invoke("runs", "ls", "--sort", "-runtime", "--columns", "name,runtime")
    assert result.exit_code == 0, result.output
    assert result.stdout.index("slow") < result.stdout.index("quick")
    faster = invoke("runs", "ls", "-f", "runtime < 0.25", "--columns", "name")
    assert "quick" in faster.stdout and "slow" not in faster.stdout
    by_id = invoke("runs", "ls", "-f", f"id = '{slow}'", "--sort", "id", "--columns", "name")
    assert "slow" in by_id.stdout and "quick" not in by_id.stdout
    assert quick != slow
    assert invoke("runs", "ls", "-f", "created > 0", "--sort", "-created").exit_code == 0
    assert ll.runs("digits", order_by="runtime")[0].id == quick  # the Python API too
