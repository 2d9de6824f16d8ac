"""Issue 10: PostgreSQL down at ``finish`` (before: the unwritten points were spooled but never
loaded back, and the run read ``crashed`` although it finished). A TCP proxy in front of the
real server is shut, the run finishes, the proxy comes back, and the next ``init`` delivers the
spool: every point once, status ``finished``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import labledger as ll
from labledger.sdk.backend import close_stores
from tests.client.proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_postgres_down_at_finish_is_spooled_and_delivered(
    postgres_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(postgres_uri)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    uri = postgres_uri.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}")
    monkeypatch.setenv("LABLEDGER_URI", uri)
    monkeypatch.setenv("LABLEDGER_STRICT", "0")
    run = ll.init(project="p", capture=False)
    for step in range(100):
        run.log({"loss": float(step)}, step=step)
    run.flush()
    proxy.stop()
    with caplog.at_level(logging.WARNING, "labledger"):
        for step in range(100, 250):
            run.log({"loss": float(step)}, step=step)
        run.finish()  # must not raise
    assert "spooled to" in caplog.text, caplog.text
    close_stores()
    proxy.start()  # the same port again
    ll.init(project="other", capture=False).finish()  # delivers the spool
    view = ll.Api().run(run.id)
    assert view.history("loss").steps.tolist() == list(range(250))
    assert view.status is ll.RunStatus.FINISHED
