from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from labledger.capture.command import capture_command
from labledger.capture.redact import REDACTED


def test_environment_selection_and_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "sk-unlisted-secret")
    monkeypatch.setenv("WANDB_API_KEY", "sk-wandb-secret")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("LABLEDGER_db_password", "pw-secret")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://user:uri-secret@mlflow.example.com")
    monkeypatch.setenv("UNRELATED_SETTING", "x")

    env = capture_command()["env"]

    assert env["OMP_NUM_THREADS"] == "4"
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert env["WANDB_API_KEY"] == REDACTED
    assert env["HF_TOKEN"] == REDACTED
    assert env["LABLEDGER_db_password"] == REDACTED
    assert env["MLFLOW_TRACKING_URI"] == "https://mlflow.example.com"
    assert "PATH" not in env and "HOME" not in env  # machine noise
    assert env["UNRELATED_SETTING"] == "x"  # the whole environment: any variable may steer a run
    assert env["MY_API_KEY"] == REDACTED
    assert capture_command()["env_complete"] is True
    text = json.dumps(capture_command())
    assert "secret" not in text


def test_invocation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.1"])

    cmd = capture_command()

    assert cmd["argv"] == ["train.py", "--lr", "0.1"]
    assert cmd["entry_script"] == str(script.resolve())
    assert cmd["cwd"] == os.getcwd()
    assert cmd["python"] == sys.executable
    assert cmd["pid"] == os.getpid()
    assert 0 < cmd["start_time"] <= time.time()


@pytest.mark.parametrize("argv0", ["-c", "", "no/such/file.py"])
def test_no_entry_script(argv0: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])

    assert capture_command()["entry_script"] is None


def test_start_folder_is_the_one_at_import_not_at_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labledger

    monkeypatch.setattr(labledger, "_START_CWD", str(tmp_path))
    (tmp_path / "outputs").mkdir()
    monkeypatch.chdir(tmp_path / "outputs")  # what hydra.job.chdir=True does before init
    cmd = capture_command()
    assert cmd["start_cwd"] == str(tmp_path)
    assert cmd["cwd"] == str(tmp_path / "outputs")
