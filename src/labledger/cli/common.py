"""Helpers every CLI command shares: opening the read API, error conversion, run JSON."""

from __future__ import annotations

import functools
import re
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
        from labledger.sdk.mmap_journal import pending_runs

        path = Path(settings.uri.removeprefix("sqlite:///"))
        # A run killed before its first flush left only its journal: Api() creates the store
        # and recovers it.
        if not path.exists() and not pending_runs(settings.journal_dir):
            raise LabledgerError(
                f"no labledger store at {path}: run from your project folder "
                "or set LABLEDGER_DIR / LABLEDGER_URI"
            )
    return Api(settings=settings)


def split_keys(values: Iterable[str]) -> list[str]:
    """``--sort a,b --sort c`` → ``["a", "b", "c"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


# Sort keys as the runs table names its columns.
SORT_ALIASES = {"id": "run_id", "created": "created_at", "ended": "ended_at"}
_KEY_MENTION = re.compile(r"(?:^|[\s(,+-])(metrics|config|params?)\.((?:`[^`]+`|[\w/\-:@.])+)")
SAMPLE_RUNS = 200


def _sort_key(key: str) -> str:
    sign = "-" if key.startswith("-") else ""
    bare = key.lstrip("-+")
    return sign + SORT_ALIASES.get(bare, bare)


def unknown_keys(
    api: Api, project: str | None, texts: Iterable[str]
) -> list[tuple[str, list[str]]]:
    """``metrics.KEY`` / ``config.KEY`` named in ``texts`` that no recent run has, each with
    the closest known keys."""
    import difflib

    mentioned = []
    for text in texts:
        for namespace, key in _KEY_MENTION.findall(text):
            ns = "metrics" if namespace == "metrics" else "config"
            mentioned.append(f"{ns}.{key.replace('`', '')}")
    if not mentioned:
        return []
    known: set[str] = set()
    for run in api.runs(project, limit=SAMPLE_RUNS):
        known.update(f"metrics.{k}" for k in run.metrics)
        known.update(f"config.{k}" for k in run.params)
    return [
        (key, difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.5))
        for key in dict.fromkeys(mentioned)
        if key not in known
    ]


def warn_unknown_keys(
    api: Api, project: str | None, texts: Iterable[str], strict: bool = False
) -> None:
    """A warning on stderr (an error with ``strict``) per key no run has."""
    for key, close in unknown_keys(api, project, texts):
        hint = f"; closest: {', '.join(close)}" if close else ""
        message = f"no run has {key}{hint}"
        if strict:
            raise LabledgerError(message)
        click.secho(f"warning: {message}", fg="yellow", err=True)


def query_runs(
    api: Api, project: str | None, filter_: str | None, sort: Sequence[str], limit: int | None
) -> RunList:
    keys = [_sort_key(k) for k in split_keys(sort)]
    return api.runs(project, filter=filter_, order_by=keys, limit=limit or None)


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
