"""The MLflow-compatible tracking endpoint: unchanged MLflow client code logs into labledger.

Mounted by ``create_app`` under ``/api/2.0/mlflow/`` and its ``/ajax-api/2.0/mlflow/`` mirror
(experiments, runs, logging, metric histories) and ``/api/2.0/mlflow-artifacts/`` (the
artifact proxy). Every other MLflow path answers ``ENDPOINT_NOT_FOUND``; errors come back in
MLflow's shape with its codes. Auth is the app's: the MLflow client's
``MLFLOW_TRACKING_TOKEN`` is sent as a bearer token, which is a labledger API token.

Modules: ``common`` (requests, context, endpoint registry), ``errors``, ``validation``
(MLflow's limits), ``convert`` (the mapping), ``filters`` (search syntax), ``experiments``,
``runs``, ``writes`` (log-*), ``metrics`` (histories), ``inputs``, ``artifacts`` (proxy).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module

import msgspec
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from labledger.server.mlflow.common import ENDPOINTS, Endpoint, Message, context
from labledger.server.mlflow.errors import error_response, not_found

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
UNSUPPORTED_PREFIXES = (
    "/api/2.0/mlflow",
    "/ajax-api/2.0/mlflow",
    "/api/3.0/mlflow",
    "/ajax-api/3.0/mlflow",
    "/api/2.0/mlflow-artifacts",
)
MODULES = ("experiments", "runs", "writes", "metrics", "models", "inputs", "artifacts")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _route(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        try:
            message = await Message.read(request)
            ctx = await run_in_threadpool(context, request)
            result = await run_in_threadpool(endpoint.handler, ctx, message)
        except Exception as exc:
            return error_response(exc)
        return Response(msgspec.json.encode(result), media_type="application/json")

    return route


async def _unsupported(request: Request) -> Response:
    return not_found(request.url.path)


def mount(app: FastAPI) -> None:
    """Add the MLflow endpoints to ``app`` (before any catch-all page routes)."""
    extra: list[APIRouter] = []
    for name in MODULES:
        try:
            module = import_module(f"labledger.server.mlflow.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"labledger.server.mlflow.{name}":
                raise
            continue
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            extra.append(router)
    router = APIRouter(include_in_schema=False)
    for prefix in PREFIXES:
        for endpoint in ENDPOINTS:
            router.add_api_route(
                prefix + endpoint.path, _route(endpoint), methods=list(endpoint.methods)
            )
    app.include_router(router)
    for other in extra:
        app.include_router(other)
    fallback = APIRouter(include_in_schema=False)
    for prefix in UNSUPPORTED_PREFIXES:
        fallback.add_api_route(prefix + "/{rest:path}", _unsupported, methods=ALL_METHODS)
    app.include_router(fallback)
