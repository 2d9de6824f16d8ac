"""Processes that log and get SIGKILLed, and recoveries that get SIGKILLed mid-replay.

A logging child appends each step to a witness file after ``log`` returns: every witnessed
step must be in the store, exactly once, whatever was killed and when."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import labledger

SRC = str(Path(labledger.__file__).resolve().parents[1])

# argv: witness [run ID to resume]. Logs "forever"; CRASH_FLUSH_AT=N flushes once after step N;
# CRASH_FAIL_RECOVERY=1 makes init's first recovery attempt fail (=always: every attempt).
LOGGER = textwrap.dedent(
    """
    import os, sys, labledger
    if os.environ.get("CRASH_FAIL_RECOVERY"):  # recovery fails (a store hiccup)
        from labledger.sdk import mmap_journal
        real, failed = mmap_journal._recover_run, []

        def once(*args):
            if not failed or os.environ["CRASH_FAIL_RECOVERY"] == "always":
                failed.append(1)
                raise RuntimeError("store hiccup")
            return real(*args)

        mmap_journal._recover_run = once
    resume = sys.argv[2] if len(sys.argv) > 2 else None
    run = labledger.init(project="crash", name="crash-loop", capture=False, resume=resume)
    witness = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(witness, f"run {run.id}\\n".encode())
    start = run.step
    flush_at = int(os.environ.get("CRASH_FLUSH_AT", "-1"))  # one explicit flush there
    for i in range(start, start + 10_000_000):
        run.log({"x": float(i), "y": -0.5 * i}, step=i)
        if i == flush_at:
            run.flush()
        os.write(witness, f"{i}\\n".encode())
    """
)

# argv: how (sync | api | recover), fault (none | sql | insert | unlink), N [go-file].
# Recovers the crashed runs' journals through a real entry point; it SIGKILLs itself at the
# N-th SQL statement ("sql"), the N-th INSERT ("insert": inside the replay transaction) or
# before the N-th segment removal ("unlink": the points are committed, the journal is not
# removed yet).
# With a go-file it waits for that file first (two recoveries started at the same moment).
RECOVERER = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    from labledger.config import load_settings
    from labledger.sdk import mmap_journal
    from labledger.store import open_store

    how, fault, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    go = sys.argv[4] if len(sys.argv) > 4 else None
    settings = load_settings()
    store = open_store(settings.uri)
    count = [0]

    def hit():
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    def statement(sql):
        if fault == "sql" or sql.lstrip().upper().startswith("INSERT"):
            hit()

    if fault in ("sql", "insert"):  # on every engine: sync and Api() open their own
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        from labledger.store.sqlite_connections import SqliteWrites

        event.listen(Engine, "before_cursor_execute", lambda c, cur, sql, *rest: statement(sql))
        # SQLite's batches go through plain sqlite3 connections
        def hooked(method):
            def run(self, sql, *args):
                statement(sql)
                return method(self, sql, *args)

            return run

        for name in ("execute", "first"):
            setattr(SqliteWrites, name, hooked(getattr(SqliteWrites, name)))
    elif fault == "unlink":
        unlink = pathlib.Path.unlink

        def counted(self, missing_ok=False):
            if self.suffix == ".mmj":
                hit()
            unlink(self, missing_ok=missing_ok)

        pathlib.Path.unlink = counted
    if go:
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
    print("recovering", flush=True)
    if how == "recover":
        print("recovered", mmap_journal.recover(store, settings.journal_dir), flush=True)
    elif how == "api":
        from labledger.sdk.api import Api

        Api(settings=settings, uri=None).runs()
    else:
        from labledger.cli.main import main

        sys.argv = ["labledger", "sync"]
        main()
    """
)


def child_env(root: Path, uri: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child using the store in ``root`` (or ``uri``, journals in root)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLEDGER_")}
    env.update(
        LABLEDGER_DIR=str(root),
        PYTHONPATH=SRC,
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        LABLEDGER_CAPTURE_CONSOLE="0",
        **extra,
    )
    if uri is not None:
        env["LABLEDGER_URI"] = uri
    return env


def witnessed(path: Path) -> tuple[str | None, list[int]]:
    """The run ID and every step a logging child saw ``log`` return for."""
    run_id, steps = None, []
    if not path.exists():
        return None, []
    for line in path.read_text().splitlines():
        if line.startswith("run "):
            run_id = line.split()[1]
        elif line.strip():
            steps.append(int(line))
    return run_id, steps


def starts(witness: Path) -> int:
    return witness.read_text().count("run ") if witness.exists() else 0


def start_logger(workdir: Path, env: dict[str, str], resume: str | None) -> subprocess.Popen[bytes]:
    script = workdir / "logger.py"
    if not script.exists():
        script.write_text(LOGGER)
    args = [sys.executable, str(script), str(workdir / "witness.txt")]
    return subprocess.Popen(args + ([resume] if resume else []), env=env)


def wait_for_steps(witness: Path, after: int, count: int, child: subprocess.Popen[bytes]) -> None:
    """Until the child's ``after``-th start has witnessed ``count`` steps (or it died)."""
    deadline = time.monotonic() + 120  # a hung child fails the test instead of hanging it
    while time.monotonic() < deadline and child.poll() is None:
        text = witness.read_text() if witness.exists() else ""
        if text.count("run ") > after and text.rsplit("run ", 1)[1].count("\n") > count:
            return
        time.sleep(0.01)
    raise AssertionError(f"the logging child did not log {count} steps (exit {child.poll()})")


def kill(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()


def kill_logger_mid_loop(workdir: Path, env: dict[str, str], steps: int = 2000) -> str:
    """Start a new logging run, SIGKILL it once ``steps`` steps were logged; its run ID."""
    witness = workdir / "witness.txt"
    before = starts(witness)
    child = start_logger(workdir, env, None)
    wait_for_steps(witness, before, steps, child)
    kill(child)
    run_id, _ = witnessed(witness)
    assert run_id is not None
    return run_id


def start_recoverer(
    workdir: Path, env: dict[str, str], how: str, fault: str = "none", n: int = 0, go: str = ""
) -> subprocess.Popen[str]:
    script = workdir / "recoverer.py"
    script.write_text(RECOVERER)
    args = [sys.executable, str(script), how, fault, str(n)] + ([go] if go else [])
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_recoverer(
    workdir: Path, env: dict[str, str], how: str, fault: str = "none", n: int = 0
) -> subprocess.CompletedProcess[str]:
    script = workdir / "recoverer.py"
    script.write_text(RECOVERER)
    return subprocess.run(
        [sys.executable, str(script), how, fault, str(n)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
