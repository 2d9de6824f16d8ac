"""Writing runs recorded elsewhere (MLflow, TensorBoard, a labledger export) into a store.

An imported run keeps its own times, status and metric timestamps, and carries an
``origin`` capture section (``{"source": "mlflow", "id": ..., "complete": true}``). Its ID
is derived from where it came from, so importing the same source twice finds the run and
adds nothing; the run's points, summary and origin land in one transaction, so an import
cut short is finished by running it again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labledger.entities import RUN_ID_ALPHABET, RUN_ID_LENGTH, RunRecord, RunStatus
from labledger.errors import RunNotFound
from labledger.sdk.api import Api
from labledger.store.base import MetricColumns, RunBatch


@dataclass
class ImportedArtifact:
    """A file or folder to log as a version of ``name`` for the imported run."""

    path: str | os.PathLike[str]
    name: str
    type: str = "artifact"
    metadata: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class ImportedRun:
    """A run from another system; ``metrics`` maps a key to ``(steps, values, times)``."""

    source: str  # "mlflow", "tensorboard", "labledger"
    source_id: str  # unique within the source
    record: RunRecord
    metrics: dict[str, tuple[Sequence[int], Sequence[float], Sequence[float]]] = field(
        default_factory=dict
    )
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[tuple[str, float, str]] = field(default_factory=list)
    artifacts: list[ImportedArtifact] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # extra origin facts
    keep_id: bool = False  # keep record.run_id (a labledger export) instead of deriving one


def imported_run_id(source: str, source_id: str) -> str:
    """The stable labledger ID of run ``source_id`` from ``source``."""
    number = int.from_bytes(hashlib.sha256(f"{source}\0{source_id}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(RUN_ID_LENGTH):
        number, index = divmod(number, len(RUN_ID_ALPHABET))
        chars.append(RUN_ID_ALPHABET[index])
    return "".join(chars)


class Importer:
    """Writes ``ImportedRun`` objects into the store ``api`` reads."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store

    def run_id(self, run: ImportedRun) -> str:
        return run.record.run_id if run.keep_id else imported_run_id(run.source, run.source_id)

    def is_imported(self, run_id: str) -> bool:
        """Whether the run exists and its import completed."""
        try:
            record = self.store.get_run(run_id)
        except RunNotFound:
            return False
        if record.run_id != run_id:  # a prefix match of another run
            return False
        origin = self.store.get_captures(run_id).get("origin", {})
        return bool(origin.get("complete"))

    def write(self, run: ImportedRun) -> tuple[str, bool]:
        """Import ``run``; returns ``(run_id, written)``, ``written`` False when it was
        already there."""
        import numpy as np

        run_id = self.run_id(run)
        if self.is_imported(run_id):
            return run_id, False
        record = run.record
        record.run_id = run_id
        if not self._exists(run_id):
            self.store.create_run(record)
        for artifact in run.artifacts:
            self.api_artifacts().log(
                run_id,
                artifact.path,
                name=artifact.name,
                type=artifact.type,
                metadata=artifact.metadata,
                aliases=artifact.aliases,
            )
        batch = RunBatch()
        for key, (steps, values, times) in run.metrics.items():
            if len(steps):
                batch.metrics[key] = MetricColumns(
                    steps=np.asarray(steps, dtype=np.int64),
                    values=np.asarray(values, dtype=np.float64),
                    times=np.asarray(times, dtype=np.float64),
                )
        batch.captures = {name: dict(section) for name, section in run.captures.items()}
        batch.captures["origin"] = {
            **run.details,
            "source": run.source,
            "id": run.source_id,
            "complete": True,
        }
        batch.outputs = list(run.outputs)
        if record.summary:
            batch.summary = dict(record.summary)
        # The final status again, in the transaction that marks the import complete.
        batch.changes = {"status": RunStatus(record.status), "ended_at": record.ended_at}
        self.store.write_batch(run_id, batch)
        return run_id, True

    def _exists(self, run_id: str) -> bool:
        try:
            return self.store.get_run(run_id).run_id == run_id
        except RunNotFound:
            return False

    def api_artifacts(self) -> Any:
        from labledger.sdk.artifacts import Artifacts

        if not hasattr(self, "_artifacts"):
            self._artifacts = Artifacts(self.store, self.api.settings)
        return self._artifacts


def parse_param(text: str) -> Any:
    """MLflow stores params as text: a number whose spelling survives the round trip becomes
    that number (``"0.1"`` → 0.1), anything else (``"1e-3"``, ``"adam"``) stays text."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if str(value) == text:
            return value
    return text


def origin_of(captures: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ``origin`` section of an imported run, or None for a run recorded here."""
    origin = captures.get("origin")
    return dict(origin) if origin else None
