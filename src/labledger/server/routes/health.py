"""``GET /api/health``: liveness and version, without authentication."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["health"])


def _version() -> str:
    try:
        return version("labledger")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "version": _version()}
