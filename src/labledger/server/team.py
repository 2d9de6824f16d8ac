"""The team server's app: ``create_app`` over a SQL store, with token auth, blobs served or
presigned, and the heartbeat sweeper.

``build_team_app(settings)`` is what every worker process runs: it holds no state that another
process would need (auth, live updates and crash detection all go through the database), so any
number of processes on any number of machines can serve one database and one bucket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from labledger.config import ServerSettings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from labledger.store.auth import AuthStore

log = logging.getLogger("labledger.server")


class HeartbeatSweeper:
    """Marks ``running`` runs crashed once their client has not heartbeated for
    ``crash_after`` seconds. One idempotent UPDATE per sweep: several server processes
    sweeping at once mark each run once, and the run keeps every point it logged."""

    def __init__(self, auth: AuthStore, *, crash_after: float, interval: float) -> None:
        self.auth = auth
        self.crash_after = crash_after
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        return self.auth.crash_stale_runs(time.time() - self.crash_after)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                crashed = self.sweep()
            except Exception:  # the database may be restarting: try again next time
                log.warning("heartbeat sweep failed", exc_info=True)
                continue
            if crashed:
                log.info("marked %d run(s) crashed (no heartbeat)", crashed)

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="labledger-heartbeats", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def build_team_app(settings: ServerSettings) -> FastAPI:
    """The app one server process serves (opens the store, migrating it if needed)."""
    from labledger.artifacts.blobstore import open_blob_store
    from labledger.server.app import create_app
    from labledger.server.auth import TokenAuthenticator
    from labledger.store import auth_store, open_store

    store = open_store(settings.db)
    auth = auth_store(store)
    blobs = open_blob_store(settings.artifacts, s3_endpoint_url=settings.s3_endpoint_url)
    client_settings = load_settings(env={}).with_overrides(
        uri=settings.db,
        artifact_uri=settings.artifacts,
        s3_endpoint_url=settings.s3_endpoint_url,
        crash_after=settings.crash_after,
    )
    app = create_app(
        store,
        blobs=blobs,
        settings=client_settings,
        authenticator=None if settings.no_auth else TokenAuthenticator(auth),
    )
    app.state.server_settings = settings
    if settings.s3_public_url and settings.artifacts.startswith("s3://"):
        from labledger.artifacts.s3 import make_client

        app.state.s3_signer = make_client(settings.s3_public_url)
    sweeper = HeartbeatSweeper(
        auth, crash_after=settings.crash_after, interval=settings.sweep_interval
    )
    app.state.sweeper = sweeper
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        sweeper.start()
        try:
            async with inner(served) as state:
                yield state
        finally:
            sweeper.stop()
            store.close()

    app.router.lifespan_context = lifespan
    return app
