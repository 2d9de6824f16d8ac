"""The ``ExperimentStore`` protocol: MLflow experiments for the MLflow-compatible endpoint.

An experiment is a labledger project with a stable numeric ID (MLflow's ``experiment_id``),
a lifecycle stage (``active`` / ``deleted``), tags and an artifact location. Projects that
have runs but no row yet get one on first sight (``ensure``). ``SqlExperimentStore``
implements it on the SQL store's engine; ``experiment_store(store)`` returns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Stage = Literal["active", "deleted"]
DEFAULT_EXPERIMENT_ID = 0


@dataclass(frozen=True)
class Experiment:
    experiment_id: int
    name: str
    lifecycle_stage: Stage
    artifact_location: str | None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@runtime_checkable
class ExperimentStore(Protocol):
    def create(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        """A new experiment; ``ExperimentExists`` when the name is taken."""
        ...

    def ensure(self, names: Iterable[str]) -> None:
        """Give every project in ``names`` a row (idempotent, safe under concurrency)."""
        ...

    def get(self, experiment_id: int) -> Experiment:
        """``NotFound`` when there is no such experiment."""
        ...

    def get_by_name(self, name: str) -> Experiment:
        """``NotFound`` when there is no such experiment."""
        ...

    def list(self) -> list[Experiment]:
        """Every experiment, by ID."""
        ...

    def update(
        self,
        experiment_id: int,
        *,
        lifecycle_stage: Stage | None = None,
        set_tags: Mapping[str, str] | None = None,
        delete_tags: Iterable[str] = (),
    ) -> Experiment: ...
