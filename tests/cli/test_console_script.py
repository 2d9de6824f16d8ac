"""The installed ``labledger`` command in a real process: no tracebacks, POSIX streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import make_run, run_script

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
    only when a table is drawn."""
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
    for args, loaded in ((["runs", "ls"], ["rich"]), (["runs", "ls", "--json"], [])):
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
