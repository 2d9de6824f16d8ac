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
    assert plan.code_dir == code
    assert plan.venv_dir.parent == api.settings.root / "reproductions" / "venvs"
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


def test_requirements_follow_each_install_kind(tmp_path: Path) -> None:
    from labledger.repro.packages import own_requirement

    environment = {
        "packages": {
            "numpy": "2.1.0", "proj": "0.1", "tool": "1.0", "lib": "3.0", "vcspkg": "0.2",
            "wheelpkg": "1.1", "gone": "0.3", "labledger": "0.0.9", "sub": "1.0",
        },
        "editable": {"tool": {"path": "/nowhere/tool", "commit": None}},
        "installs": {
            "proj": {"kind": "editable", "path": "/home/ada/proj", "commit": "abc"},
            "lib": {"kind": "editable", "path": "/opt/lib", "commit": None},
            "sub": {"kind": "editable", "path": "/opt/mono/sub", "commit": "f00d",
                    "repo": "/opt/mono", "subdirectory": "sub",
                    "remote_url": "https://example.com/mono.git"},
            "vcspkg": {"kind": "vcs", "url": "https://example.com/v.git", "vcs": "git",
                       "commit": "1234"},
            "wheelpkg": {"kind": "archive", "url": "file:///opt/w/wheelpkg-1.1-py3-none-any.whl"},
            "gone": {"kind": "archive", "url": "file:///nowhere/gone-0.3.tar.gz"},
        },
        "indexes": {"index_url": None, "extra_index_urls": ["https://pkgs.example.com/simple"]},
    }  # fmt: skip
    present = {"/opt/lib", "/opt/w/wheelpkg-1.1-py3-none-any.whl"}
    code = tmp_path / "code"
    plan = env_plan(
        environment,
        "venv",
        "/home/ada/proj",
        code,
        exists=lambda p: str(p) in present,
        skip=["numpy"],
        index_urls=["https://other.example.com/simple"],
    )
    kinds = {s.name: (s.kind, s.requirement) for s in plan.sources}
    assert "numpy" not in kinds and any("numpy==2.1.0 left out" in n for n in plan.notes)
    assert kinds["proj"] == ("worktree", f"-e {code}")
    assert kinds["lib"] == ("folder", "-e /opt/lib")
    assert kinds["tool"] == ("registry", "tool==1.0")  # its folder is gone
    assert kinds["sub"] == ("clone", f"-e {tmp_path / 'deps' / 'sub' / 'sub'}")
    sub = next(s for s in plan.sources if s.name == "sub")
    assert sub.clone is not None and sub.clone.commit == "f00d"
    assert sub.clone.url == "https://example.com/mono.git"  # /opt/mono is not on this machine
    assert kinds["vcspkg"] == ("vcs", "vcspkg @ git+https://example.com/v.git@1234")
    assert kinds["wheelpkg"] == (
        "archive",
        "wheelpkg @ file:///opt/w/wheelpkg-1.1-py3-none-any.whl",
    )
    assert kinds["gone"] == ("registry", "gone==0.3")
    assert kinds["labledger"] == ("labledger", own_requirement()[0])
    assert plan.indexes == ("https://pkgs.example.com/simple", "https://other.example.com/simple")
    assert set(plan.requirements()[-2:]) == {
        f"-e {tmp_path / 'deps' / 'sub' / 'sub'}",
        f"-e {code}",
    }
    assert any("/nowhere/tool, which is gone" in n for n in plan.notes)


def test_labledger_comes_from_the_running_source() -> None:
    from labledger.repro.packages import own_requirement

    line, origin = own_requirement()
    root = Path(__file__).resolve().parents[2]
    assert line == str(root) and str(root) in origin


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
    assert "(labledger, labledger)" in out
    assert f"-e {tmp_path / 'w' / 'code'}" in out
    assert f"command:     python -u {tmp_path / 'w' / 'code'}/train.py" in out
    assert not (tmp_path / "w").exists()


def test_dry_run_with_the_current_environment_lists_differing_packages() -> None:
    run_id = recorded_run()
    result = invoke(reproduce, run_id, "--dry-run", "--env", "current")
    assert result.exit_code == 0, result.output
    assert "package(s) differ from the record (name, recorded, current)" in result.stdout
    assert "tool" in result.stdout and "(absent)" in result.stdout
