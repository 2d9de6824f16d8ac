"""The ``Store`` protocol: the only way the SDK, CLI and server reach persisted runs.

Kept small on purpose; features (filter parsing, crash detection, diffs, reproduction) live
above it. Every implementation passes the contract suite in ``tests/store/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from labledger.entities import MetricSeries, RunRecord

if TYPE_CHECKING:
    from labledger.store.columns import RunColumns
    from labledger.store.rollups import SeriesEnvelope


@dataclass
class MetricColumns:
    """One flush worth of points for one key, as numpy arrays of equal length."""

    steps: Any  # int64
    values: Any  # float64, NaN and +-inf allowed
    times: Any  # float64 unix seconds


@dataclass
class RunBatch:
    """Everything one writer flush sends for one run; a store applies it in one transaction.

    One flush is one transaction (one fsync) locally and will be one request to a server.
    """

    metrics: dict[str, MetricColumns] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    captures: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[tuple[str, float, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)  # run fields, as in update_run

    def __bool__(self) -> bool:
        return any(
            (self.metrics, self.summary, self.captures, self.outputs, self.config, self.changes)
        )


def merge_batches(batches: Sequence[RunBatch]) -> RunBatch:
    """One batch with the effect of applying ``batches`` in order.

    Exact when only the last batch carries a summary (metrics are applied before summaries
    inside a batch); ``HttpStore`` merges only such runs of batches.
    """
    import numpy as np

    merged = RunBatch()
    series: dict[str, list[MetricColumns]] = {}
    for batch in batches:
        for key, col in batch.metrics.items():
            series.setdefault(key, []).append(col)
        merged.summary.update(batch.summary)
        merged.captures.update(batch.captures)
        merged.outputs.extend(batch.outputs)
        merged.config.update(batch.config)
        merged.changes.update(batch.changes)
    for key, cols in series.items():
        merged.metrics[key] = (
            cols[0]
            if len(cols) == 1
            else MetricColumns(
                np.concatenate([c.steps for c in cols]),
                np.concatenate([c.values for c in cols]),
                np.concatenate([c.times for c in cols]),
            )
        )
    return merged


@dataclass
class ArtifactVersion:
    """One immutable version of a named artifact."""

    name: str
    version: int
    type: str
    digest: str
    size: int
    manifest: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: bool = False
    uri: str | None = None
    run_id: str | None = None
    created_at: float = 0.0
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"


@runtime_checkable
class ArtifactRegistry(Protocol):
    """Artifact versions, aliases and lineage (metadata only; bytes live in a BlobStore)."""

    def add_version(self, version: ArtifactVersion) -> ArtifactVersion:
        """Store ``version`` as the next version of its name, or return the existing version
        with the same digest. The ``latest`` alias moves to the returned version."""
        ...

    def get_version(self, name: str, selector: str | None = None) -> ArtifactVersion:
        """``selector`` is ``vN``, an alias, or None for ``latest``."""
        ...

    def list_versions(self, name: str | None = None) -> list[ArtifactVersion]: ...

    def set_alias(self, name: str, alias: str, version: int) -> None: ...

    def delete_version(self, name: str, version: int) -> ArtifactVersion:
        """Delete one version with its aliases and uses; ``latest`` moves to the newest
        remaining version of the name. Its blobs stay until ``gc``."""
        ...

    def record_use(self, run_id: str, name: str, version: int) -> None: ...

    def consumers(self, name: str, version: int) -> list[str]: ...

    def produced_by(self, run_id: str) -> list[ArtifactVersion]: ...

    def used_by(self, run_id: str) -> list[ArtifactVersion]: ...

    def referenced_digests(self) -> set[str]:
        """Every blob digest referenced by a stored (non-reference) artifact version."""
        ...


@runtime_checkable
class Store(Protocol):
    """Persisted runs: lifecycle, config, captures, metric series, console output."""

    @property
    def uri(self) -> str: ...

    @property
    def artifacts(self) -> ArtifactRegistry: ...

    # --- write side -------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> None:
        """Store a new run; raises ``RunExists`` when its ID is taken."""
        ...

    def write_batch(self, run_id: str, batch: RunBatch) -> None:
        """Apply a writer flush (points, summaries, captures, output, config, run fields)
        durably in one transaction. The single-purpose methods below are shorthands."""
        ...

    def write_batch_once(self, run_id: str, key: str | Sequence[str], batch: RunBatch) -> bool:
        """``write_batch`` unless a batch with idempotency ``key`` was applied before (the key
        is stored in the batch's transaction). True when applied now, False for a duplicate.

        Several keys: ``batch`` merges those batches (``merge_batches``) and is applied with
        all its keys or, when every key was seen, not at all; ``PartiallyApplied`` if only
        some were."""
        ...

    def update_run(self, run_id: str, changes: Mapping[str, Any]) -> None:
        """Change fields listed in ``entities.UPDATABLE_RUN_FIELDS``."""
        ...

    def log_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        """Merge a (nested, JSON-safe) config into the run; flattened keys become params."""
        ...

    def put_captures(self, run_id: str, sections: Mapping[str, Mapping[str, Any]]) -> None:
        """Store capture sections (``{"git": {...}, "host": {...}}``), replacing same-named ones."""
        ...

    def write_metrics(self, run_id: str, columns: Mapping[str, MetricColumns]) -> None:
        """Append points and update per-key summaries, durably, in one transaction."""
        ...

    def set_summary(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Merge final values (``run.summary``) into the run's summary."""
        ...

    def append_output(self, run_id: str, lines: Sequence[tuple[str, float, str]]) -> None:
        """Append console output as (stream, time, text) tuples."""
        ...

    def delete_run(self, run_id: str) -> list[ArtifactVersion]:
        """Delete the run (an exact ID) with everything recorded for it, including its uses
        of artifacts and the artifact versions it produced, which are returned; blobs stay
        until ``gc``. ``RunNotFound`` when there is no such run."""
        ...

    # --- read side --------------------------------------------------------------------
    def get_run(self, ref: str) -> RunRecord:
        """A run by full ID or unique prefix; raises RunNotFound / AmbiguousRunId."""
        ...

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunRecord]: ...

    def run_columns(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> RunColumns:
        """``search_runs`` as columns (``labledger.store.columns``), for DataFrames."""
        ...

    def count_runs(self, project: str | None = None, filter: str | None = None) -> int: ...

    def list_projects(self) -> list[str]: ...

    def get_captures(self, run_id: str) -> dict[str, dict[str, Any]]: ...

    def metric_keys(self, run_id: str) -> list[str]: ...

    def read_metric(
        self,
        run_id: str,
        key: str,
        *,
        times: bool = True,
        start: int | None = None,
        end: int | None = None,
    ) -> MetricSeries:
        """The series (its points with ``start <= step <= end`` when given, in logged order);
        ``times=False`` skips wall-clock times (``series.times`` is None)."""
        ...

    def read_envelope(
        self,
        run_id: str,
        key: str,
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> SeriesEnvelope:
        """A chart's view of ``key`` between steps ``start`` and ``end``: the points
        themselves when few, else at most ``points`` step-aligned buckets with an exact
        min/max envelope, read from stored rollups (``labledger.store.rollups``)."""
        ...

    def read_envelopes(
        self,
        series: Sequence[tuple[str, str]],
        points: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> list[SeriesEnvelope]:
        """``read_envelope`` for several (run ID, key) pairs in one call (compare views)."""
        ...

    def read_output(
        self, run_id: str, *, since: float | None = None
    ) -> list[tuple[str, float, str]]:
        """Console output as (stream, time, text), oldest first; with ``since``, only lines
        stored with a later time (what a live view has not seen yet)."""
        ...

    def close(self) -> None: ...
