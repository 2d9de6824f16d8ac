"""The static front end: files under ``/static/`` and the page paths, which all return
``index.html`` (the front end routes by URL). Nothing here renders user text."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from labledger.ui import STATIC_DIR

PAGES = ("/", "/runs", "/run/{run_id}", "/compare", "/importance", "/significance", "/login")

_PLACEHOLDER = (
    "<!doctype html><meta charset=utf-8><title>labledger</title>"
    "<p>The labledger UI files are not installed; the API is at <a href=/api/docs>/api/docs</a>."
)
# The pages load only their own scripts and styles; no inline script, no third-party origin.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def _index() -> Response:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        return HTMLResponse(_PLACEHOLDER, headers=PAGE_HEADERS)
    return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)


def mount_pages(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    for path in PAGES:
        router.add_api_route(path, _index, methods=["GET"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
