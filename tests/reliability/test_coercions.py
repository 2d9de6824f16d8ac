"""Issue 10, silent coercions and unsafe defaults become errors or warnings (each failed
before: tags="production" became ten one-letter tags, a cyclic or 1000-deep config raised a bare
RecursionError, resuming a live run said nothing, a folder's symlinks to files anywhere on disk
were copied in)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labledger as ll
from labledger.errors import ArtifactError


def test_tags_as_a_string_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"use \['production'\]"):
        ll.init(project="p", tags="production", capture=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each tag"):
        ll.init(project="p", tags=["ok", 3], capture=False)  # type: ignore[list-item]
    assert ll.current_run() is None


def test_cyclic_config_is_a_clear_error() -> None:
    config: dict[str, object] = {"a": 1}
    config["self"] = config
    with pytest.raises(TypeError, match="config is cyclic"):
        ll.init(project="p", config=config, capture=False)


def test_deep_config_is_a_clear_error() -> None:
    config: dict[str, object] = {}
    node = config
    for _ in range(1000):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    with pytest.raises(TypeError, match="nested more than"):
        ll.init(project="p", config=config, capture=False)


def test_shared_but_acyclic_config_is_fine() -> None:
    shared = {"lr": 0.1}
    with ll.init(project="p", config={"a": shared, "b": shared}, capture=False) as run:
        pass
    assert ll.Api().run(run.id).config == {"a": {"lr": 0.1}, "b": {"lr": 0.1}}


@pytest.mark.slow
def test_resuming_a_live_run_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = tmp_path / "first.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            import labledger as ll
            run = ll.init(project="p", capture=False)
            run.flush()  # init returns before the run is written; flush() waits for it
            print(run.id, flush=True)
            sys.stdin.readline()
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        with caplog.at_level(logging.WARNING, "labledger"):
            ll.init(project="p", resume=run_id, capture=False).finish()
        assert "is still live" in caplog.text and run_id in caplog.text
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=60)


def test_resuming_a_finished_run_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with ll.init(project="p", capture=False) as run:
        run.log({"loss": 1.0})
    with caplog.at_level(logging.WARNING, "labledger"):
        ll.init(project="p", resume=run.id, capture=False).finish()
    assert "still live" not in caplog.text


def test_folder_symlinks_out_of_the_folder_are_refused_by_default(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private data\n")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    (folder / "alias.bin").symlink_to(folder / "weights.bin")  # inside: fine
    (folder / "leak.txt").symlink_to(outside)
    with ll.init(project="p", capture=False) as run:
        with pytest.raises(ArtifactError, match="outside the folder"):
            run.log_artifact(folder, name="model")
        version = run.log_artifact(folder, name="model", follow_symlinks=True)
    assert {e["path"] for e in version.manifest} == {"alias.bin", "leak.txt", "weights.bin"}
    (folder / "leak.txt").unlink()
    with ll.init(project="p", capture=False) as run:
        version = run.log_artifact(folder, name="model2")
    assert {e["path"] for e in version.manifest} == {"alias.bin", "weights.bin"}
