"""Where a writer puts batches its store cannot take: the store's spool folder, else the system
temp folder, else (bounded) memory. ``labledger sync`` and the next ``init`` deliver them."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from labledger.store.base import RunBatch

log = logging.getLogger("labledger")

MEMORY_LIMIT_POINTS = 5_000_000  # about 120 MB of points kept when no folder takes writes


def spool_locations(spool_dir: Path | None) -> list[Path]:
    """Folders tried in order: the store's spool folder, then one in the system temp dir."""
    fallback = Path(tempfile.gettempdir()) / "labledger-spool"
    return [p for p in (spool_dir, fallback) if p is not None]


class Spool:
    """Append-only spool of one run's unwritten batches."""

    def __init__(self, locations: list[Path], run_id: str) -> None:
        self.locations = locations
        self.run_id = run_id
        self.memory: list[RunBatch] = []
        self._memory_points = 0
        self._seq = 0

    def append(self, batch: RunBatch) -> str:
        """Save ``batch``; return where it went. Raises when even memory is full."""
        for folder in self.locations:
            try:
                return str(self._write(folder, batch))
            except OSError:
                continue
        points = sum(len(c.steps) for c in batch.metrics.values())
        if self._memory_points + points > MEMORY_LIMIT_POINTS:
            raise OSError("no folder takes writes and the in-memory spool is full")
        self._memory_points += points
        self.memory.append(batch)
        return "memory (no folder takes writes)"

    def _write(self, folder: Path, batch: RunBatch) -> Path:
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stem = folder / f"{self.run_id}-{time.time_ns()}-{self._seq}"
        arrays: dict[str, Any] = {}
        for i, (key, col) in enumerate(batch.metrics.items()):
            arrays[f"k{i}_key"] = np.array(key)
            arrays[f"k{i}_steps"], arrays[f"k{i}_values"] = col.steps, col.values
            arrays[f"k{i}_times"] = col.times
        rest = {
            "summary": batch.summary,
            "captures": batch.captures,
            "outputs": batch.outputs,
            "config": batch.config,
            "changes": batch.changes,
        }
        try:
            with open(stem.with_suffix(".npz"), "wb") as handle:
                np.savez(handle, **arrays)
                handle.flush()
            stem.with_suffix(".json").write_text(json.dumps(rest, default=str))
        except OSError:
            for suffix in (".npz", ".json"):  # never leave a 0-byte or half file behind
                stem.with_suffix(suffix).unlink(missing_ok=True)
            raise
        return folder


def open_spool(spool_dir: Path | None, run_id: str) -> Spool:
    return Spool(spool_locations(spool_dir), run_id)
