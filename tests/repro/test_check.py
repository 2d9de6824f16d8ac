"""``labledger check``: the reproducibility checklist and its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

import labledger as ll
from labledger.cli.repro import check
from labledger.repro.check import CheckReport, check_run
from tests.repro.conftest import commit_all, invoke, make_run


def report(run_id: str) -> CheckReport:
    api = ll.Api()
    return check_run(api.run(run_id), api.store, api.settings)


def items(result: CheckReport) -> dict[str, tuple[str, str]]:
    return {i.name: (i.status, i.message) for i in result.items}


def test_dirty_tree_without_captured_diff_fails(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "train.py").write_text("lr = 0.1\n")
    commit_all(repo, "init")
    (repo / "train.py").write_text("lr = 0.2\n")
    monkeypatch.chdir(repo)
    monkeypatch.setattr("labledger.capture.git.DIFF_LIMIT", 1)  # the diff is not stored
    with ll.init(project="p", seed=0) as run:
        run.log({"loss": 1.0})
    status, message = items(report(run.id))["code"]
    assert status == "fail"
    assert "uncommitted changes not captured" in message
    result = invoke(check, run.id)
    assert result.exit_code == 1
    assert "FAIL  code" in result.stdout and "fix: commit the changes" in result.stdout
    assert "Verdict: FAIL" in result.stdout


@pytest.mark.usefixtures("no_torch_determinism")
def test_a_complete_run_passes_every_item(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "train.py").write_text("lr = 0.1\n")
    commit_all(repo, "init")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("x,y\n1,2\n")
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"weights")
    monkeypatch.chdir(repo)
    ll.seed_everything(0, deterministic_torch=True)
    with ll.init(project="p") as run:
        run.use_dataset(str(data), name="train-data")
        run.log({"loss": 1.0})
        run.log_artifact(weights, name="model", type="model")
    result = report(run.id)
    assert {name: status for name, (status, _) in items(result).items()} == {
        "code": "pass",
        "packages": "pass",
        "seeds": "pass",
        "data": "pass",
        "weights": "pass",
        "determinism": "pass",
        "fingerprint": "pass",
        "record": "pass",
    }, result
    cli = invoke(check, run.id)
    assert cli.exit_code == 0 and "Verdict: PASS (8 pass, 0 warn, 0 fail)" in cli.stdout


def test_tampered_record_fails_the_fingerprint_item() -> None:
    run_id = make_run(config={"lr": 0.1}, seed=1)
    ll.Api().store.log_config(run_id, {"lr": 0.5})
    status, message = items(report(run_id))["fingerprint"]
    assert status == "fail"
    assert "changed after the run finished (config)" in message
    assert invoke(check, run_id).exit_code == 1


def test_unseeded_libraries_and_nondeterministic_torch_are_named() -> None:
    run_id = make_run(seed=1)
    ll.Api().store.put_captures(
        run_id,
        {
            "seeds": {"seed": 1, "python_random": 1},
            "determinism": {
                "numpy_version": "2.0",
                "cublas_workspace_config": None,
                "torch": {
                    "deterministic_algorithms": False,
                    "cudnn_benchmark": True,
                    "cuda_available": True,
                },
            },
        },
    )
    found = items(report(run_id))
    assert found["seeds"] == ("fail", "seed 1, but not seeded: numpy, torch, torch CUDA")
    status, message = found["determinism"]
    assert status == "warn"
    assert "deterministic algorithms off" in message and "CUBLAS_WORKSPACE_CONFIG" in message


def test_no_seed_no_git_no_packages_fail(tmp_path: Path) -> None:
    run_id = make_run()  # capture off, no seed
    found = items(report(run_id))
    assert found["code"][0] == "fail" and found["packages"][0] == "fail"
    assert found["seeds"] == ("fail", "no seed recorded, and nothing observed pins it")
    assert found["data"][0] == "warn" and found["weights"][0] == "warn"


def test_policy_turns_warnings_into_failures(tmp_path: Path) -> None:
    run_id = make_run(seed=1)
    (tmp_path / "labledger.toml").write_text('[policy]\nrequire = ["weights"]\n')
    assert items(report(run_id))["weights"][0] == "fail"


def test_data_that_is_gone_or_changed_never_passes(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    with ll.init(project="p", capture=False) as run:
        run.use_dataset(str(data), name="train", copy=False)  # a reference, nothing stored
    assert items(report(run.id))["data"][0] == "pass"
    data.write_text("a,b\n1,3\n")
    status, message = items(report(run.id))["data"]
    assert status == "fail" and "changed since the run" in message
    data.unlink()  # a temporary file the script deleted
    status, message = items(report(run.id))["data"]
    assert status == "warn" and "cannot be verified any more" in message


def test_a_deleted_temporary_dataset_is_verified_from_its_stored_copy(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from labledger.cli.main import cli

    data = tmp_path / "digits.npy"  # tmp_path is under tempfile.gettempdir()
    data.write_bytes(b"\x93NUMPY digits")
    with ll.init(project="p", capture=False) as run:
        version = run.use_dataset(str(data), name="digits")
    assert version.reference and version.metadata["stored_copy"] is True
    data.write_bytes(b"\x93NUMPY other")  # changed in place: still a failure
    assert items(report(run.id))["data"][0] == "fail"
    data.unlink()  # the script's temporary folder is gone: the copy still vouches for it
    status, message = items(report(run.id))["data"]
    assert status == "pass" and "digits:v0" in message
    verified = CliRunner().invoke(cli, ["artifacts", "verify", "digits:v0"])
    assert verified.exit_code == 0, verified.output
    restored = ll.use_artifact("digits:v0")  # served from the copy: the bytes the run used
    files = [restored] if restored.is_file() else [p for p in restored.rglob("*") if p.is_file()]
    assert [f.read_bytes() for f in files] == [b"\x93NUMPY digits"]


def test_in_memory_data_is_stored_when_small_and_never_passes_when_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    np = pytest.importorskip("numpy")
    with ll.init(project="p", capture=False) as run:
        small = run.use_dataset(np.arange(10), name="small")
        raw = run.use_dataset(b"raw bytes", name="raw")
    assert not small.reference and small.metadata["source"] == "memory"
    assert raw.manifest[0]["digest"] == __import__("hashlib").sha256(b"raw bytes").hexdigest()
    assert items(report(run.id))["data"][0] == "pass"
    with ll.init(project="p", capture=False) as again:  # the same data: the same version
        assert again.use_dataset(np.arange(10), name="small").ref == small.ref

    monkeypatch.setenv("LABLEDGER_DATASET_COPY_MAX_MB", "0")
    with ll.init(project="p", capture=False) as big:
        digest_only = big.use_dataset(np.arange(1000), name="big")
    assert digest_only.reference
    status, message = items(report(big.id))["data"]
    assert status == "warn" and "cannot be verified any more" in message
    assert "in-memory data, not stored" in message
