"""``labledger artifacts ...`` and ``labledger gc`` through Click's CliRunner (and the installed
console script for the one-line error contract)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from labledger.cli.main import cli
from labledger.config import Settings
from labledger.sdk.artifacts import Artifacts
from tests.artifacts.helpers import write


@pytest.fixture
def run_cli(settings: Settings) -> Callable[..., Result]:
    env = {"LABLEDGER_DIR": str(settings.root), "LABLEDGER_URI": ""}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def logged(service: Artifacts, new_run: Callable[[], str], tmp_path: Path) -> dict[str, str]:
    run = new_run()
    model = write(tmp_path / "model.pt", b"weights-0")
    service.log(run, model, name="digits-mlp", type="model", metadata={"acc": 0.91})
    write(model, b"weights-1")
    service.log(run, model, name="digits-mlp", type="model", aliases=["best"])
    write(tmp_path / "data" / "train.csv", "x,y\n")
    service.use_dataset(run, str(tmp_path / "data"), name="digits-data")
    return {"run": run, "model": str(model), "data": str(tmp_path / "data")}


@pytest.mark.parametrize(
    "command",
    [
        ["artifacts"],
        ["artifacts", "ls"],
        ["artifacts", "show"],
        ["artifacts", "get"],
        ["artifacts", "alias"],
        ["artifacts", "lineage"],
        ["artifacts", "verify"],
        ["gc"],
    ],
)
def test_every_command_has_help_with_examples(
    run_cli: Callable[..., Result], command: list[str]
) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "labledger " in result.output


def test_ls(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    result = run_cli("artifacts", "ls")
    assert result.exit_code == 0, result.output
    for ref in ("digits-mlp:v0", "digits-mlp:v1", "digits-data:v0"):
        assert ref in result.output
    assert logged["run"] in result.output
    only = run_cli("artifacts", "ls", "--type", "dataset").output
    assert "digits-data:v0" in only and "digits-mlp" not in only


def test_ls_empty_store(run_cli: Callable[..., Result], store: object) -> None:
    assert run_cli("artifacts", "ls").output.strip() == "No artifacts."


def test_show(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    result = run_cli("artifacts", "show", "digits-mlp:v0")
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(b"weights-0").hexdigest()
    for text in (f"sha256:{digest}", "acc", "0.91", "model.pt", logged["run"], "stored"):
        assert text in result.output
    document = json.loads(run_cli("artifacts", "show", "digits-mlp:best", "--json").output)
    assert document["ref"] == "digits-mlp:v1"
    assert document["aliases"] == ["best", "latest"]


def test_get(run_cli: Callable[..., Result], logged: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("artifacts", "get", "digits-mlp:v0", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path == tmp_path / "out" / "model.pt"
    assert path.read_bytes() == b"weights-0"
    cached = Path(
        run_cli("artifacts", "get", "digits-mlp", "--run", logged["run"][:5]).output.strip()
    )
    assert cached.read_bytes() == b"weights-1"
    lineage = run_cli("artifacts", "lineage", "digits-mlp:v1").output
    assert "→ run" in lineage and logged["run"] in lineage  # the runs that used it


def test_alias_moves(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    result = run_cli("artifacts", "alias", "digits-mlp:v0", "production")
    assert result.exit_code == 0
    assert result.output.strip() == "digits-mlp:production -> digits-mlp:v0"
    run_cli("artifacts", "alias", "digits-mlp:best", "production")
    shown = json.loads(run_cli("artifacts", "show", "digits-mlp:production", "--json").output)
    assert shown["version"] == 1


def test_lineage_both_ways(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    by_artifact = run_cli("artifacts", "lineage", "digits-mlp:v0")
    assert by_artifact.exit_code == 0
    assert f"← run {logged['run']}" in by_artifact.output
    assert "← digits-data:v0 (dataset)" in by_artifact.output  # the data behind the model
    tree = json.loads(run_cli("artifacts", "lineage", "digits-mlp:v0", "--json").output)
    assert tree["run"]["run_id"] == logged["run"]
    assert [i["artifact"] for i in tree["run"]["inputs"]] == ["digits-data:v0"]
    by_run = run_cli("artifacts", "lineage", "--run", logged["run"])
    assert by_run.exit_code == 0
    inputs, outputs = by_run.output.split("outputs")
    assert "digits-data:v0" in inputs and "digits-mlp" not in inputs
    assert "digits-mlp:v0" in outputs and "digits-mlp:v1" in outputs
    neither = run_cli("artifacts", "lineage")
    assert neither.exit_code == 2 and "either NAME:VERSION or --run" in neither.output


def test_verify(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    ok = run_cli("artifacts", "verify", "digits-data")
    assert ok.exit_code == 0 and "OK" in ok.output
    write(Path(logged["data"]) / "train.csv", "x,y\n1,2\n")
    changed = run_cli("artifacts", "verify", "digits-data:v0")
    assert changed.exit_code == 1
    assert "changed: train.csv" in changed.output
    assert run_cli("artifacts", "verify", "digits-mlp:v1").exit_code == 0


def test_gc_dry_run_then_gc(
    run_cli: Callable[..., Result], logged: dict[str, str], service: Artifacts, tmp_path: Path
) -> None:
    orphan = hashlib.sha256(b"orphan").hexdigest()
    service.blobs.put_file(orphan, write(tmp_path / "orphan", b"orphan"))
    kept = sorted(d for d in service.blobs.iter_digests() if d != orphan)

    dry = run_cli("gc", "--dry-run", "--min-age", "0")
    assert dry.exit_code == 0
    assert "would delete 1 blob(s)" in dry.output and orphan in dry.output
    assert service.blobs.exists(orphan)

    real = run_cli("gc", "--min-age", "0")
    assert (
        "deleted 1 blob(s)" in real.output and "kept 3 referenced" in real.output
    )  # 2 model files + the temp dataset's copy
    assert sorted(service.blobs.iter_digests()) == kept
    assert "deleted 0 blob(s)" in run_cli("gc", "--min-age", "0").output


def test_user_errors_are_one_line(run_cli: Callable[..., Result], logged: dict[str, str]) -> None:
    for args, message in [
        (["artifacts", "show", "nosuch"], "no artifact named 'nosuch'"),
        (["artifacts", "get", "digits-mlp:v7"], "has no version v7 (latest is v1)"),
        (["artifacts", "alias", "digits-mlp:v0", "v3"], "invalid alias"),
        (["artifacts", "lineage", "--run", "zzzzzzzz"], "no run matches"),
    ]:
        result = run_cli(*args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_console_script_prints_one_line_for_bad_names(settings: Settings, store: object) -> None:
    code = "from labledger.cli.main import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "artifacts", "get", "../../etc/passwd"],
        capture_output=True,
        text=True,
        env={"LABLEDGER_DIR": str(settings.root), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: invalid artifact name '../../etc/passwd'")
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_store_is_reported_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(cli, ["artifacts", "ls"], env={"LABLEDGER_DIR": str(missing)})
    assert result.exit_code == 1 and "no labledger store" in result.output
    assert not missing.exists()
