"""``labledger runs rm`` / ``artifacts rm``: confirmation, refusals that protect lineage, and
``--gc`` of exactly the blobs the deletion freed."""

from __future__ import annotations

from pathlib import Path

import labledger as ll
from labledger.store import open_store
from tests.cli.conftest import invoke


def _blobs(store: Path) -> set[str]:
    return {p.name for p in (store / "artifacts").rglob("*") if p.is_file() and len(p.name) >= 60}


def _train(tmp_path: Path, content: bytes, *, uses: str | None = None) -> str:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(content)
    with ll.init(project="digits", capture=False) as run:
        if uses:
            run.use_artifact(uses, dest=tmp_path / "used")
        run.log({"acc": 0.5})
        run.log_artifact(weights, name="model", type="model")
        return run.id


def test_runs_rm_asks_then_deletes_the_run_its_versions_and_with_gc_their_blobs(
    tmp_path: Path, cli_store: Path
) -> None:
    keep = _train(tmp_path, b"kept weights")
    doomed = _train(tmp_path, b"doomed weights")
    before = _blobs(cli_store)
    assert len(before) == 2

    refused = invoke("runs", "rm", doomed)  # no terminal and no --yes
    assert refused.exit_code == 1 and "pass --yes" in refused.stderr

    done = invoke("runs", "rm", doomed[:6], "--yes", "--gc")
    assert done.exit_code == 0, done.stderr
    assert "deleted 1 run(s), 1 artifact version(s)" in done.stdout
    assert "deleted 1 blob(s)" in done.stdout
    assert f"run {doomed}" in done.stderr and "artifact model:v1" in done.stderr
    assert len(_blobs(cli_store)) == 1 and _blobs(cli_store) < before

    store = open_store(f"sqlite:///{cli_store / 'labledger.db'}")
    try:
        assert [r.run_id for r in store.search_runs()] == [keep]
        assert store.artifacts.get_version("model").version == 0
    finally:
        store.close()
    assert invoke("artifacts", "get", "model", str(tmp_path / "out")).exit_code == 0
    assert (tmp_path / "out" / "weights.bin").read_bytes() == b"kept weights"


def test_runs_rm_refuses_a_version_another_run_consumed(tmp_path: Path) -> None:
    producer = _train(tmp_path, b"v0")
    _train(tmp_path, b"v1", uses="model:v0")
    refused = invoke("runs", "rm", producer, "--yes")
    assert refused.exit_code == 1 and "model:v0 was used by run(s)" in refused.stderr
    assert "--force" in refused.stderr
    forced = invoke("runs", "rm", producer, "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr


def test_runs_rm_without_gc_says_what_is_left_for_gc(tmp_path: Path) -> None:
    run_id = _train(tmp_path, b"weights")
    done = invoke("runs", "rm", run_id, "--yes")
    assert "1 blob(s) now unreferenced: `labledger gc` removes them" in done.stdout


def test_artifacts_rm_needs_a_version_and_moves_latest(tmp_path: Path, cli_store: Path) -> None:
    _train(tmp_path, b"first")
    _train(tmp_path, b"second")
    bare = invoke("artifacts", "rm", "model", "--yes")
    assert bare.exit_code == 1 and "names no version" in bare.stderr
    done = invoke("artifacts", "rm", "model:latest", "--yes", "--gc")
    assert done.exit_code == 0, done.stderr
    assert "deleted 1 artifact version(s)" in done.stdout and "deleted 1 blob(s)" in done.stdout
    shown = invoke("artifacts", "ls")
    assert "model:v0" in shown.stdout and "model:v1" not in shown.stdout
    every = invoke("artifacts", "rm", "model:*", "--yes")
    assert every.exit_code == 0 and "deleted 1 artifact version(s)" in every.stdout
    assert invoke("artifacts", "show", "model").exit_code == 1
