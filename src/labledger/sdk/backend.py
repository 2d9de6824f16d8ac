"""Process-wide store handles: one open store per URI, shared by runs and the read API."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from labledger.config import Settings, load_settings

if TYPE_CHECKING:
    from labledger.store.base import Store

_lock = threading.Lock()
_stores: dict[tuple[str, bool], Store] = {}


def get_store(settings: Settings | None = None) -> Store:
    """The store for ``settings`` (default: settings from the environment), opened once."""
    settings = settings or load_settings()
    key = (settings.uri, settings.offline)
    with _lock:
        store = _stores.get(key)
        if store is None:
            from labledger.store import open_store

            store = _stores[key] = open_store(settings.uri, settings=settings, journal=True)
        return store


def is_open(settings: Settings) -> bool:
    """Whether the store ``settings`` name is open in this process already."""
    return (settings.uri, settings.offline) in _stores


def close_stores() -> None:
    """Close every open store (tests, and forked children before they open their own)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
