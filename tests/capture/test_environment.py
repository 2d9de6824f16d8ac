from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

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
    # The checkout labledger is installed from (a worktree may import another one first).
    installed = _editable_path(metadata.distribution("labledger").read_text("direct_url.json"))
    assert installed is not None
    assert Path(editable["labledger"]["path"]).resolve() == installed.resolve()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=installed, capture_output=True, text=True, check=True
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


def test_install_kinds_from_pep_610() -> None:
    from labledger.capture.environment import _install_of

    vcs = _install_of(
        {
            "url": "https://user:tok@example.com/lib.git",
            "vcs_info": {"vcs": "git", "commit_id": "abc123", "requested_revision": "main"},
        }
    )
    assert vcs == {
        "kind": "vcs",
        "url": "https://example.com/lib.git",  # credentials stripped
        "vcs": "git",
        "commit": "abc123",
        "requested": "main",
        "subdirectory": None,
    }
    archive = _install_of({"url": "file:///w/x-1.0-py3-none-any.whl", "archive_info": {}})
    assert archive is not None and archive["kind"] == "archive"
    folder = _install_of({"url": "file:///nowhere/pkg", "dir_info": {}})
    assert folder == {"kind": "directory", "path": "/nowhere/pkg", "commit": None}


def test_indexes_are_recorded_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from labledger.capture import environment

    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://me:secret@pkgs.example.com/simple")
    recorded = environment._recorded_indexes()
    assert recorded["extra_index_urls"] == ["https://pkgs.example.com/simple"]
