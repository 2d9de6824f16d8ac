"""``create_app``: the one FastAPI app behind ``labledger ui`` and ``labledger server``.

No module globals: the store, blob store, settings, read API and authenticator hang off
``app.state``; routes reach them through the dependencies in ``deps.py``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from fastapi import FastAPI

from labledger.config import Settings, load_settings
from labledger.sdk.api import Api
from labledger.sdk.artifacts import Artifacts
from labledger.server.deps import Authenticator, local_authenticator
from labledger.server.errors import install_error_handlers
from labledger.server.pages import mount_pages
from labledger.server.series_cache import SeriesCache
from labledger.store.base import Store

if TYPE_CHECKING:
    from labledger.artifacts.blobstore import BlobStore

# Router modules under labledger.server.routes, each exposing ``router``. Modules other
# helpers add are included when present, so the app builds while they are being written.
ROUTERS = (
    "health",
    "projects",
    "runs",
    "series",
    "output",
    "artifacts",
    "diff",
    "live",
    "analysis",
    "auth",
    "admin",
    "blobs",
    "store_rpc",
)


def create_app(
    store: Store,
    *,
    blobs: BlobStore | None = None,
    settings: Settings | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    """The HTTP API and UI over ``store``. ``authenticator`` defaults to one local admin."""
    settings = settings or load_settings().with_overrides(uri=store.uri)
    app = FastAPI(
        title="labledger",
        summary="Recorded training runs: read API for the UI and scripts.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.store = store
    app.state.blobs = blobs
    app.state.settings = settings
    app.state.api = Api(settings=settings, store=store)
    app.state.artifacts = Artifacts(store, settings, blobs=blobs)
    app.state.series_cache = SeriesCache(store)
    app.state.authenticator = authenticator or local_authenticator
    install_error_handlers(app)
    for name in ROUTERS:
        try:
            module = import_module(f"labledger.server.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"labledger.server.routes.{name}":
                raise
            continue
        app.include_router(module.router)
    from labledger.server.mlflow import mount as mount_mlflow

    mount_mlflow(app)
    mount_pages(app)
    return app
