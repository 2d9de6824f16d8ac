"""Small helpers shared by the artifact tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

from labledger.entities import RunRecord, new_run_id
from labledger.store.base import Store


def create_run(store: Store, name: str = "n") -> str:
    run_id = new_run_id()
    store.create_run(RunRecord(run_id=run_id, project="p", name=name, created_at=time.time()))
    return run_id


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def age(path: Path, seconds: float = 60.0) -> None:
    """Backdate a file's mtime, so the hash cache trusts it (fresh files are "racy")."""
    then = time.time() - seconds
    os.utime(path, (then, then))
