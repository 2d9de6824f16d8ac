"""Issue 10, secrets: every planted secret is absent from the whole store (database files and
artifact folder) and from ``labledger share`` (before: the argv password, URL passwords, the
token in an environment variable, .env/secrets.yaml contents and the server URL leaked)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labledger.capture.redact import (
    REDACTED,
    is_secret_key,
    looks_like_secret_file,
    redact_argv,
    redact_text,
)

SECRETS = {
    "argv flag": "ArgvPass1x",
    "argv =-joined flag": "ArgvTok2x",
    "argv URL password": "UrlPass3x",
    "config key": "CfgPass4x",
    "nested config key": "CfgKey5x",
    "console URL password": "ConsolePass6x",
    "console token parameter": "ConsoleTok7x",
    "env token parameter": "EnvTok8x",
    "env secret variable": "HfSecret9x",
    ".env file": "DotEnv10x",
    "secrets.yaml file": "Yaml11x",
    ".pem file": "Pem12x",
    "git remote password": "RemotePass13x",
    "hydra override": "Hydra14x",
}

TRAIN = """
import labledger as ll
config = {{"db_password": "{config key}", "model": {{"api_key": "{nested config key}"}},
          "tokenizer": "gpt2", "max_tokens": 5}}
with ll.init(project="p", config=config) as run:
    print("connecting to https://bob:{console URL password}@db.example/x"
          "?token={console token parameter}")
    run.log({{"loss": 1.0}})
    print(run.id)
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.mark.slow
def test_no_planted_secret_reaches_the_store_or_share(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text(textwrap.dedent(TRAIN).format(**SECRETS))
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "init")
    remote = f"https://user:{SECRETS['git remote password']}@git.example/org/repo.git"
    git(repo, "remote", "add", "origin", remote)
    (repo / ".env").write_text(f"DB_PASSWORD={SECRETS['.env file']}\n")
    (repo / "secrets.yaml").write_text(f"token: {SECRETS['secrets.yaml file']}\n")
    (repo / "deploy.pem").write_text(f"-----BEGIN KEY-----\n{SECRETS['.pem file']}\n")
    (repo / "notes.txt").write_text("not a secret\n")
    store = tmp_path / "store"
    env = {
        **os.environ,
        "LABLEDGER_DIR": str(store),
        "MLFLOW_TRACKING_URI": "https://mlflow.example/?access_token="
        + SECRETS["env token parameter"],
        "HF_TOKEN": SECRETS["env secret variable"],
    }
    argv = [
        "--db-password",
        SECRETS["argv flag"],
        f"--token={SECRETS['argv =-joined flag']}",
        "--db",
        f"postgresql://u:{SECRETS['argv URL password']}@h/db",
        f"db.password={SECRETS['hydra override']}",
    ]
    result = subprocess.run(
        [sys.executable, "train.py", *argv],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    share = subprocess.run(
        [sys.executable, "-c", "from labledger.cli.main import main; main()", "share", run_id],
        env={**env, "LABLEDGER_SERVER_URL": "https://admin:ServerPass15x@ledger.example/"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert share.returncode == 0, share.stderr
    assert "ServerPass15x" not in share.stdout + share.stderr
    assert "https://ledger.example/runs/" in share.stdout

    blobs = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    leaked = [what for what, secret in SECRETS.items() if secret.encode() in blobs]
    assert not leaked, f"secrets found in the store: {leaked}"
    assert b"not a secret" in blobs  # ordinary untracked files are still recorded
    assert b"gpt2" in blobs and REDACTED.encode() in blobs


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--password", "p"], ["--password", REDACTED]),
        (["--api-key=k"], [f"--api-key={REDACTED}"]),
        (["--secret", "s", "--lr", "0.1"], ["--secret", REDACTED, "--lr", "0.1"]),
        (["--tokenizer", "gpt2", "--num-keys", "3"], ["--tokenizer", "gpt2", "--num-keys", "3"]),
        (["https://u:p@h/x"], ["https://h/x"]),
        (["s3://b/k?X-Amz-Signature=abc&x=1"], [f"s3://b/k?X-Amz-Signature={REDACTED}&x=1"]),
    ],
)
def test_redact_argv(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == expected


def test_redact_text_and_names() -> None:
    assert redact_text("see postgresql://u:pw@h/db now") == "see postgresql://u@h/db now"
    assert redact_text("ssh://git@host/repo") == "ssh://git@host/repo"
    assert "=tok&" not in redact_text("GET /x?access_token=tok&page=2")
    assert is_secret_key("dbPassword") and is_secret_key("hf_token") and is_secret_key("api-key")
    assert not is_secret_key("tokenizer") and not is_secret_key("max_tokens")
    assert not is_secret_key("keys") and not is_secret_key("monkey")
    assert looks_like_secret_file(".env") and looks_like_secret_file("conf/secrets.yaml")
    assert looks_like_secret_file("a/b/server.pem") and not looks_like_secret_file("train.py")


def test_secret_like_untracked_files_are_name_and_digest_unless_opted_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labledger.capture.git import SECRET_FILES_OPT_IN, capture_git

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text("print(1)\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "init")
    (repo / ".env").write_text("DB_PASSWORD=Planted16x\n")
    (repo / "notes.txt").write_text("plain\n")
    monkeypatch.delenv(SECRET_FILES_OPT_IN, raising=False)
    captured = capture_git(repo)
    assert "Planted16x" not in repr(captured)
    skipped = repr(captured)
    assert ".env" in skipped and "looks like a secret" in skipped and "sha256" in skipped.lower()
    monkeypatch.setenv(SECRET_FILES_OPT_IN, "1")
    assert "Planted16x" in repr(capture_git(repo))  # the user asked for the content
