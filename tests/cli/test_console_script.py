"""The installed ``labledger`` command in a real process: no tracebacks, POSIX streams."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.cli.conftest import console_script, make_run, run_script

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    return env


def test_unknown_run_is_one_line_on_stderr() -> None:
    make_run()
    done = run_script("runs", "show", "nosuchrun", env=_env())
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "Error: no run matches 'nosuchrun'\n"
    assert "Traceback" not in done.stderr


def test_bad_filter_and_usage_errors() -> None:
    make_run()
    bad = run_script("runs", "ls", "--filter", "metrics.acc >> 1", env=_env())
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: ") and len(bad.stderr.splitlines()) == 1
    usage = run_script("runs", "diff", "onlyone", env=_env())
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


def test_piped_output_has_no_colour_codes() -> None:
    run_id = make_run(config={"lr": 0.1}, metrics=[{"acc": 0.5}, {"acc": 0.6}])
    listing = run_script("runs", "ls", env=_env())
    assert listing.returncode == 0, listing.stderr
    assert run_id in listing.stdout
    assert "\x1b[" not in listing.stdout
    shown = run_script("runs", "show", run_id[:4], "--json", env=_env())
    assert json.loads(shown.stdout)["run_id"] == run_id


def test_runs_ls_loads_only_what_it_uses() -> None:
    """Subcommands are imported when used: listing runs loads neither numpy, pandas nor
    Alembic, nor the modules of other commands (analysis, reproduction, the server); Rich
    only when a table is drawn on a terminal (piped, the table is plain text)."""
    run_id = make_run(config={"lr": 0.1}, metrics=[{"acc": 0.5}])
    heavy = [
        "numpy",
        "pandas",
        "alembic",
        "labledger.analysis",
        "labledger.repro",
        "labledger.server",
        "labledger.sdk.artifacts",
        "labledger.store.sql_auth",
        "rich",
    ]
    code = (
        "import json, sys\n"
        "from labledger.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        f"    print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    for args, loaded in ((["runs", "ls"], []), (["runs", "ls", "--json"], [])):
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stderr.strip().splitlines()[-1]) == loaded, args
        assert run_id in done.stdout


def test_runs_ls_draws_the_same_cells_on_a_terminal_as_piped() -> None:
    """On a terminal (a pseudo-terminal here) ``runs ls`` draws Rich's table, with its rule
    under the header; piped, the same rows as plain aligned text."""
    import pty

    run_id = make_run(name="ünïcode-run", config={"lr": 0.25}, metrics=[{"acc": 0.75}])
    args = [console_script(), "runs", "ls", "-c", "id,name,config.lr,metrics.acc"]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=120, env=_env())
    assert piped.returncode == 0, piped.stderr
    rows = [line.split() for line in piped.stdout.splitlines()]
    assert rows == [["id", "name", "lr", "acc"], [run_id, "ünïcode-run", "0.25", "0.75"]]

    controller, terminal = pty.openpty()
    env = {**_env(), "COLUMNS": "120", "TERM": "xterm"}
    with subprocess.Popen(args, stdout=terminal, stderr=terminal, env=env) as child:
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        assert child.wait(timeout=120) == 0
    os.close(controller)
    text = re.sub(r"\x1b\[[0-9;]*m", "", drawn.decode())  # colours off
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0].split() == ["id", "name", "lr", "acc"]
    assert set(lines[1]) <= set("─━ ")  # Rich's rule under the header
    assert lines[2].split() == [run_id, "ünïcode-run", "0.25", "0.75"]
