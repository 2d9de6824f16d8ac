"""``SqlArtifactRegistry``: artifact versions, aliases and lineage in the SQL store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine

WriteTransaction = Callable[[], AbstractContextManager[Connection]]


class SqlArtifactRegistry:
    """Implemented in the artifacts issue; the constructor is the contract with SqlStore."""

    def __init__(self, engine: Engine, write: WriteTransaction) -> None:
        self._engine = engine
        self._write = write

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"artifact registry method {name} is not implemented yet")
