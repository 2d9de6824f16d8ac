"""Never lose a point: the server SIGKILLed mid-run, the database unreachable mid-ingest,
offline runs and journals of killed processes synced (twice), clients logging concurrently."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import labledger as ll
from labledger.cli.main import cli
from labledger.config import load_settings
from labledger.entities import RunStatus
from labledger.sdk.backend import close_stores
from labledger.store import open_store
from labledger.store.base import Store
from labledger.store.http import HttpStore
from tests.client.proxy import TcpProxy
from tests.client.server import ServerProcess

pytestmark = pytest.mark.slow


def client_env(monkeypatch: pytest.MonkeyPatch, url: str, folder: Path) -> None:
    monkeypatch.setenv("LABLEDGER_URI", url)
    monkeypatch.setenv("LABLEDGER_DIR", str(folder))
    monkeypatch.setenv("LABLEDGER_FLUSH_INTERVAL", "0.01")


def assert_exactly_once(store: Store, run_id: str, n: int) -> None:
    series = store.read_metric(run_id, "loss")
    assert series.steps.tolist() == list(range(n))
    assert series.values.tolist() == [float(i) for i in range(n)]
    assert store.get_run(run_id).metrics["loss"].count == n


def log_steps(run: ll.Run, start: int, stop: int) -> None:
    for step in range(start, stop):
        run.log({"loss": float(step)}, step=step)
        if step % 50 == 0:
            time.sleep(0.01)  # let several flushes happen


def test_server_sigkilled_mid_run_loses_and_duplicates_nothing(
    server: ServerProcess, server_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_env(monkeypatch, server.url, tmp_path / "client")
    run = ll.init(project="p", capture=False)
    log_steps(run, 0, 500)
    run.flush()
    server.kill()
    log_steps(run, 500, 1000)  # the training loop keeps going
    time.sleep(0.3)
    server.start()
    log_steps(run, 1000, 1500)
    run.finish()
    store = open_store(server_store_uri)
    assert_exactly_once(store, run.id, 1500)
    assert store.get_run(run.id).status is RunStatus.FINISHED
    store.close()


@pytest.mark.postgres
def test_database_unreachable_mid_ingest_loses_nothing(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432).start()
    through_proxy = postgres_uri.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    server = ServerProcess(through_proxy, tmp_path / "server.log").start()
    try:
        client_env(monkeypatch, server.url, tmp_path / "client")
        run = ll.init(project="p", capture=False)
        log_steps(run, 0, 400)
        run.flush()
        proxy.stop()  # every database connection of the server drops; new ones are refused
        log_steps(run, 400, 800)
        time.sleep(1.0)
        proxy.start()
        log_steps(run, 800, 1200)
        run.finish()
    finally:
        server.stop()
        proxy.stop()
    store = open_store(postgres_uri)
    assert_exactly_once(store, run.id, 1200)
    assert store.get_run(run.id).status is RunStatus.FINISHED
    store.close()


def sync_twice(tmp_path: Path) -> list[str]:
    outputs = []
    for _ in range(2):
        result = CliRunner().invoke(cli, ["sync"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    return outputs


def test_offline_run_never_contacts_the_server_until_synced(
    server_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ServerProcess(server_store_uri, tmp_path / "server.log")
    server.start()
    url = server.url
    server.kill()  # nothing listens: any contact would fail
    client_env(monkeypatch, url, tmp_path / "client")
    with ll.init(project="p", mode="offline", capture=False) as run:
        log_steps(run, 0, 700)
    close_stores()  # the training process ends; its journal is released
    server.start()
    try:
        first, second = sync_twice(tmp_path)
        assert "synced" in first and "nothing to sync" in second
        store = open_store(server_store_uri)
        assert_exactly_once(store, run.id, 700)
        record = store.get_run(run.id)
        assert record.status is RunStatus.FINISHED and record.fingerprint is not None
        store.close()
    finally:
        server.stop()


def test_sync_of_a_journal_left_by_a_sigkilled_process_stores_each_point_once(
    server: ServerProcess, server_store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_env(monkeypatch, server.url, tmp_path / "client")
    script = textwrap.dedent(
        """
        import os, signal, labledger as ll
        run = ll.init(project="p", capture=False)
        print(run.id, flush=True)
        for step in range(3000):
            run.log({"loss": float(step)}, step=step)
        run.flush()  # journaled (durable), not necessarily delivered
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == -9, proc.stderr
    run_id = proc.stdout.split()[0]
    journals = list((tmp_path / "client" / "journal").glob("*.journal"))
    assert len(journals) == 1
    first, second = sync_twice(tmp_path)
    assert "synced" in first and "nothing to sync" in second
    store = open_store(server_store_uri)
    assert_exactly_once(store, run_id, 3000)
    store.close()


def test_two_clients_log_concurrently_and_a_third_reads_both(
    server: ServerProcess, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import sys, labledger as ll
        with ll.init(project="team", name=sys.argv[1], capture=False) as run:
            for step in range(2000):
                run.log({"loss": float(step), "acc": step / 2000}, step=step)
        print(run.id)
        """
    )
    procs = []
    for name in ("alice", "bob"):
        env = dict(
            os.environ,
            LABLEDGER_URI=server.url,
            LABLEDGER_DIR=str(tmp_path / name),
            LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script, name], stdout=subprocess.PIPE, text=True, env=env
            )
        )
    ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        ids.append(out.split()[0])
    reader = HttpStore(server.url)
    runs = reader.search_runs("team", order_by=["name"])
    assert [r.name for r in runs] == ["alice", "bob"]
    for run_id in ids:
        assert_exactly_once(reader, run_id, 2000)
        assert reader.get_run(run_id).status is RunStatus.FINISHED
    reader.close()


def test_settings_read_the_token_and_mode(tmp_path: Path) -> None:
    env = {"LABLEDGER_TOKEN": "tok", "LABLEDGER_MODE": "offline", "LABLEDGER_DIR": str(tmp_path)}
    settings = load_settings(env=env, cwd=tmp_path)
    assert settings.token == "tok" and settings.offline
    assert settings.journal_dir == tmp_path / "journal"
