from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from labledger.capture.environment import _editable_path, capture_environment, normalize_name

REPO = Path(__file__).resolve().parents[2]


def test_installed_versions_match_importlib_metadata() -> None:
    env = capture_environment()

    assert env["packages"]["numpy"] == metadata.version("numpy")
    assert env["packages"]["labledger"] == metadata.version("labledger")
    assert all(name == normalize_name(name) for name in env["packages"])


def test_interpreter() -> None:
    env = capture_environment()

    assert env["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["executable"] == sys.executable
    assert env["prefix"] == sys.prefix
    assert env["in_venv"] is (sys.prefix != sys.base_prefix)


def test_labledger_is_an_editable_install_with_its_commit() -> None:
    editable = capture_environment()["editable"]

    assert "labledger" in editable
    assert Path(editable["labledger"]["path"]).resolve() == REPO
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert editable["labledger"]["commit"] == head
    assert "numpy" not in editable


def test_cached_result_cannot_be_changed_by_a_caller() -> None:
    first = capture_environment()
    first["packages"]["numpy"] = "0.0.0"
    first["editable"].clear()

    second = capture_environment()

    assert second["packages"]["numpy"] == metadata.version("numpy")
    assert "labledger" in second["editable"]


def test_normalize_name() -> None:
    assert normalize_name("Foo_Bar.baz") == "foo-bar-baz"
    assert normalize_name("ruamel.yaml") == "ruamel-yaml"


def test_editable_path_reads_pep_610() -> None:
    editable = json.dumps({"url": "file:///src/my%20pkg", "dir_info": {"editable": True}})
    regular = json.dumps({"url": "file:///src/pkg", "dir_info": {}})
    vcs = json.dumps({"url": "https://github.com/x/y", "vcs_info": {"vcs": "git"}})

    assert _editable_path(editable) == Path("/src/my pkg")
    assert _editable_path(regular) is None
    assert _editable_path(vcs) is None
    assert _editable_path("not json") is None
    assert _editable_path(None) is None
