"""Issue 10: PostgreSQL down at ``finish`` (before: the unwritten points were spooled but never
loaded back, and the run read ``crashed`` although it finished). A TCP proxy in front of the
real server is shut, the run finishes, the proxy comes back, and the next ``init`` delivers the
spool: every point once, status ``finished``."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path

import pytest

import labledger as ll
from labledger.sdk.backend import close_stores

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Proxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; ``down()`` drops every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        self.up = False
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def back(self) -> None:
        self.up = True


def test_postgres_down_at_finish_is_spooled_and_delivered(
    postgres_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(postgres_uri)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    uri = postgres_uri.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{proxy.port}")
    monkeypatch.setenv("LABLEDGER_URI", uri)
    monkeypatch.setenv("LABLEDGER_STRICT", "0")
    run = ll.init(project="p", capture=False)
    for step in range(100):
        run.log({"loss": float(step)}, step=step)
    run.flush()
    proxy.down()
    with caplog.at_level(logging.WARNING, "labledger"):
        for step in range(100, 250):
            run.log({"loss": float(step)}, step=step)
        run.finish()  # must not raise
    assert "spooled to" in caplog.text, caplog.text
    close_stores()
    proxy.back()
    ll.init(project="other", capture=False).finish()  # delivers the spool
    view = ll.Api().run(run.id)
    assert view.history("loss").steps.tolist() == list(range(250))
    assert view.status is ll.RunStatus.FINISHED
