"""MLflow's error shape: ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`` with
the HTTP status MLflow's own server gives each code, so the MLflow client raises the
``MlflowException`` (and ``error_code``) its users know. labledger's errors map onto codes.
"""

from __future__ import annotations

import logging

import msgspec
from fastapi import Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from labledger.errors import (
    ExperimentExists,
    FilterError,
    Forbidden,
    LabledgerError,
    NotFound,
    PayloadTooLarge,
    RunExists,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger("labledger.server.mlflow")

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
BAD_REQUEST = "BAD_REQUEST"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
INTERNAL_ERROR = "INTERNAL_ERROR"

STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    TEMPORARILY_UNAVAILABLE: 503,
    INTERNAL_ERROR: 500,
}


class MlflowError(Exception):
    """An error answered in MLflow's shape with ``code``."""

    def __init__(self, message: str, code: str = INVALID_PARAMETER_VALUE) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> MlflowError:
    return MlflowError(message, INVALID_PARAMETER_VALUE)


def missing(name: str) -> MlflowError:
    return invalid(f"Missing value for required parameter '{name}'.")


def does_not_exist(message: str) -> MlflowError:
    return MlflowError(message, RESOURCE_DOES_NOT_EXIST)


def _classify(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, MlflowError):
        return exc.code, exc.message
    if isinstance(exc, Unauthorized):
        return UNAUTHENTICATED, str(exc)
    if isinstance(exc, Forbidden):
        return PERMISSION_DENIED, str(exc)
    if isinstance(exc, NotFound):
        return RESOURCE_DOES_NOT_EXIST, str(exc)
    if isinstance(exc, ExperimentExists | RunExists):
        return RESOURCE_ALREADY_EXISTS, str(exc)
    if isinstance(exc, StoreUnavailable):
        return TEMPORARILY_UNAVAILABLE, "the store is unavailable; retry"
    if isinstance(exc, FilterError | PayloadTooLarge | LabledgerError):
        return INVALID_PARAMETER_VALUE, str(exc)
    if isinstance(exc, RequestValidationError):
        return BAD_REQUEST, "invalid request"
    if isinstance(exc, HTTPException):
        return (ENDPOINT_NOT_FOUND if exc.status_code == 404 else BAD_REQUEST), str(exc.detail)
    from labledger.store.faults import is_unavailable

    if is_unavailable(exc):
        return TEMPORARILY_UNAVAILABLE, "the store is unavailable; retry"
    log.exception("unexpected error in the MLflow endpoint")
    return INTERNAL_ERROR, "internal server error (a bug: please report it)"


def error_response(exc: Exception) -> Response:
    code, message = _classify(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == UNAUTHENTICATED else None
    body = msgspec.json.encode({"error_code": code, "message": message})
    return Response(body, STATUS[code], headers=headers, media_type="application/json")


def not_found(path: str) -> Response:
    return error_response(
        MlflowError(f"labledger does not implement the MLflow endpoint {path}", ENDPOINT_NOT_FOUND)
    )
