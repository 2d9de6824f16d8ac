"""Error responses: every failure is ``{"error": {"code", "message", ...}}`` with a 4xx status.

A ``LabledgerError`` maps to its status by class; invalid query parameters or bodies are 400
(not FastAPI's 422), so clients see one error shape. Anything else reaching the client is a
bug: it is logged and answered with a plain 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from labledger.errors import (
    AmbiguousRunId,
    FilterError,
    Forbidden,
    LabledgerError,
    NotFound,
    PartiallyApplied,
    PayloadTooLarge,
    RunExists,
    Unauthorized,
)

log = logging.getLogger("labledger.server")

_STATUS: list[tuple[type[LabledgerError], int, str]] = [
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (FilterError, 400, "invalid_filter"),
    (AmbiguousRunId, 400, "ambiguous_run_id"),
    (RunExists, 409, "run_exists"),
    (PartiallyApplied, 409, "partially_applied"),
    (PayloadTooLarge, 413, "payload_too_large"),
]


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def _labledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabledgerError)
    status, code = next(
        ((s, c) for cls, s, c in _STATUS if isinstance(exc, cls)), (400, "bad_request")
    )
    extra: dict[str, Any] = {"kind": type(exc).__name__}  # HttpStore re-raises the same class
    if isinstance(exc, FilterError):
        extra["position"] = exc.position
    return error_response(status, code, str(exc), **extra)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("query", "body")
        )
        problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return error_response(400, "invalid_request", "; ".join(problems) or "invalid request")


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    code = codes.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    from labledger.store.faults import is_unavailable

    if is_unavailable(exc):  # the database is down or restarting: clients retry
        log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "store_unavailable", "the store is unavailable; retry")
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal server error (a bug: please report it)")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LabledgerError, _labledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
