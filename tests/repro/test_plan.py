"""The reproduction plan, built from the record alone (what ``--dry-run`` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import labledger as ll
from labledger.capture.redact import REDACTED
from labledger.cli.repro import reproduce
from labledger.errors import LabledgerError
from labledger.repro.plan import build_plan, env_plan, next_workdir
from tests.repro.conftest import invoke, make_run

DIFF = """diff --git a/train.py b/train.py
index 1111111..2222222 100644
--- a/train.py
+++ b/train.py
@@ -1 +1 @@
-LR = 0.05
+LR = 0.1
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
"""


def recorded_run(**overrides: Any) -> str:
    run_id = make_run(seed=0)
    sections: dict[str, Any] = {
        "git": {
            "present": True,
            "root": "/home/ada/proj",
            "commit": "c0ffee" * 6 + "abcd",
            "branch": "main",
            "remote_url": "https://example.com/ada/proj.git",
            "dirty": True,
            "diff": DIFF,
            "untracked": {"helpers.py": "def f(): ...\n"},
            "untracked_skipped": {"data.bin": "binary"},
        },
        "environment": {
            "python_version": "3.11.7",
            "packages": {"numpy": "2.1.0", "pip": "24.0", "proj": "0.1", "tool": "1.0"},
            "editable": {
                "proj": {"path": "/home/ada/proj/src/..", "commit": "c0ffee"},
                "tool": {"path": "/nowhere/tool", "commit": None},
            },
        },
        "command": {
            "orig_argv": [
                "/usr/bin/python3",
                "-u",
                "/home/ada/proj/train.py",
                "--out",
                "/home/ada/proj/out",
            ],
            "argv": ["/home/ada/proj/train.py"],
            "cwd": "/home/ada/proj/experiments",
            "env": {
                "PYTHONHASHSEED": "0",
                "LABLEDGER_DIR": "/x",
                "HF_TOKEN": REDACTED,
                "PYTHONPATH": "/home/ada/proj/src",
                "PYTHONHOME": "/usr",
            },
        },
    }
    sections.update(overrides)
    ll.Api().store.put_captures(run_id, sections)
    return run_id


def test_plan_maps_code_command_and_variables_into_the_workdir(tmp_path: Path) -> None:
    api = ll.Api()
    run_id = recorded_run()
    plan = build_plan(api.run(run_id), api.settings, workdir=tmp_path / "w")
    code = tmp_path / "w" / "code"
    assert plan.code_dir == code and plan.venv_dir == tmp_path / "w" / "venv"
    assert plan.code.commit.startswith("c0ffee") and plan.code.patch_lines == 13
    assert plan.code.changed_files == ["train.py", "old.py"]
    assert plan.code.untracked == {"helpers.py": "def f(): ...\n"}
    assert plan.command.args == ("-u", f"{code}/train.py", "--out", f"{code}/out")
    assert plan.command.cwd == code / "experiments"
    # PYTHONHASHSEED=0 came from seed_everything (the rerun exports it again), so it is not
    # replayed; the process did not start with it (hash randomization was not off)
    assert plan.command.env == {"PYTHONPATH": f"{code}/src"}
    assert any("data.bin was not recorded (binary)" in w for w in plan.warnings)
    assert not plan.problems


def test_a_hash_seed_set_at_process_start_is_replayed() -> None:
    api = ll.Api()
    run_id = recorded_run(determinism={"hash_randomization": False, "pythonhashseed": "0"})
    plan = build_plan(api.run(run_id), api.settings)
    assert plan.command.env["PYTHONHASHSEED"] == "0"


def test_requirements_pin_versions_and_rebuild_editables(tmp_path: Path) -> None:
    environment = {
        "packages": {"numpy": "2.1.0", "pip": "24.0", "proj": "0.1", "tool": "1.0", "lib": "3.0"},
        "editable": {
            "proj": {"path": "/home/ada/proj", "commit": "abc"},
            "tool": {"path": "/nowhere/tool", "commit": None},
            "lib": {"path": "/opt/lib", "commit": "def"},
        },
    }
    plan = env_plan(
        environment,
        "venv",
        "/home/ada/proj",
        tmp_path / "code",
        exists=lambda p: str(p) == "/opt/lib",
    )
    assert plan.pinned == {"numpy": "2.1.0", "pip": "24.0", "tool": "1.0"}
    assert plan.requirements() == [
        "numpy==2.1.0",
        "pip==24.0",
        "tool==1.0",
        "-e /opt/lib",
        f"-e {tmp_path / 'code'}",
    ]
    assert [(e.name, e.in_worktree) for e in plan.editable] == [("lib", False), ("proj", True)]
    assert any("/nowhere/tool, which is gone" in n for n in plan.notes)
    assert any("/opt/lib" in n and "recorded commit def" in n for n in plan.notes)


def test_workdirs_are_numbered(tmp_path: Path) -> None:
    settings = ll.Api().settings
    first = next_workdir(settings, "abc")
    assert first == settings.root / "reproductions" / "abc-1"
    first.mkdir(parents=True)
    assert next_workdir(settings, "abc").name == "abc-2"


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"git": {"present": False}}, "not started inside a git repository"),
        ({"git": {"present": True, "root": "/r", "commit": None}}, "had no commit"),
        ({"command": {}}, "no command line was recorded"),
    ],
)
def test_a_record_without_code_or_command_cannot_be_reproduced(
    sections: dict[str, Any], message: str
) -> None:
    api = ll.Api()
    run_id = recorded_run(**sections)
    with pytest.raises(LabledgerError, match=message):
        build_plan(api.run(run_id), api.settings)


def test_an_interactive_session_is_a_problem_not_a_plan() -> None:
    api = ll.Api()
    command = {
        "orig_argv": ["python", "-m", "ipykernel_launcher", "-f", "k.json"],
        "cwd": "/home/ada/proj",
    }
    plan = build_plan(api.run(recorded_run(command=command)), api.settings)
    assert plan.problems and "interactive session" in plan.problems[0]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    run_id = recorded_run()
    result = invoke(reproduce, run_id, "--dry-run", "--workdir", str(tmp_path / "w"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "commit:      c0ffee" in out
    assert "patch:" in out and "13 lines, 2 file(s): train.py, old.py" in out
    assert "untracked:   helpers.py" in out
    assert "3 packages pinned" in out  # numpy, pip, tool; proj comes from the worktree
    assert f"-e {tmp_path / 'w' / 'code'}" in out
    assert f"command:     python -u {tmp_path / 'w' / 'code'}/train.py" in out
    assert not (tmp_path / "w").exists()


def test_dry_run_with_the_current_environment_lists_differing_packages() -> None:
    run_id = recorded_run()
    result = invoke(reproduce, run_id, "--dry-run", "--env", "current")
    assert result.exit_code == 0, result.output
    assert "package(s) differ from the record (name, recorded, current)" in result.stdout
    assert "tool" in result.stdout and "(absent)" in result.stdout
