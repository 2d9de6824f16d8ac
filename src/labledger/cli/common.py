"""Helpers every CLI command shares: opening the read API, error conversion, run JSON."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from labledger.config import load_settings
from labledger.errors import LabledgerError
from labledger.sdk.api import Api, RunList, RunView

F = TypeVar("F", bound=Callable[..., Any])

SYSTEM_PREFIX = "system/"
MAX_CELL = 40


def user_errors(fn: F) -> F:
    """Turn a ``LabledgerError`` into Click's one-line ``Error: ...`` and exit code 1, so the
    message is the same under ``main()`` and when the group is invoked directly (tests)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LabledgerError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def open_api() -> Api:
    """The read API for the configured store; a missing SQLite store is an error, not created."""
    settings = load_settings()
    if settings.uri.startswith("sqlite:///"):
        path = Path(settings.uri.removeprefix("sqlite:///"))
        if not path.exists():
            raise LabledgerError(
                f"no labledger store at {path}: run from your project folder "
                "or set LABLEDGER_DIR / LABLEDGER_URI"
            )
    return Api(settings=settings)


def split_keys(values: Iterable[str]) -> list[str]:
    """``--sort a,b --sort c`` → ``["a", "b", "c"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def query_runs(
    api: Api, project: str | None, filter_: str | None, sort: Sequence[str], limit: int | None
) -> RunList:
    return api.runs(project, filter=filter_, order_by=split_keys(sort), limit=limit or None)


def run_json(run: RunView) -> dict[str, Any]:
    """One run as a plain dict: the record, nested config and final metrics."""
    r = run.record
    return {
        "run_id": r.run_id,
        "project": r.project,
        "name": r.name,
        "status": str(r.status),
        "created_at": r.created_at,
        "ended_at": r.ended_at,
        "runtime": r.runtime,
        "group": r.group,
        "tags": r.tags,
        "notes": r.notes,
        "host": r.host,
        "exit_code": r.exit_code,
        "reproduces": r.reproduces,
        "config": r.config,
        "metrics": r.final_metrics(),
    }
