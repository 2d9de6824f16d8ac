"""``SqlExperimentStore``: the ``experiments`` table of migration 0006."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from labledger.errors import ExperimentExists, NotFound
from labledger.store.experiments import Experiment, Stage
from labledger.store.schema import experiments

WriteTransaction = Callable[[], AbstractContextManager[Connection]]
e = experiments.c


def _experiment(row: Any) -> Experiment:
    return Experiment(
        experiment_id=int(row.experiment_id),
        name=row.name,
        lifecycle_stage=cast(Stage, row.lifecycle_stage),
        artifact_location=row.artifact_location,
        tags=dict(row.tags or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlExperimentStore:
    """Implements ``ExperimentStore``."""

    def __init__(self, engine: Engine, write: WriteTransaction) -> None:
        self._engine = engine
        self._write = write

    def _read(self) -> AbstractContextManager[Connection]:
        return self._engine.connect()

    @staticmethod
    def _row(name: str, artifact_location: str | None, tags: Mapping[str, str]) -> dict[str, Any]:
        now = time.time()
        return {
            "name": name,
            "lifecycle_stage": "active",
            "artifact_location": artifact_location,
            "tags": dict(tags),
            "created_at": now,
            "updated_at": now,
        }

    def create(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        try:
            with self._write() as conn:
                if conn.execute(select(e.experiment_id).where(e.name == name)).first():
                    raise ExperimentExists(f"an experiment named {name!r} already exists")
                conn.execute(insert(experiments), [self._row(name, artifact_location, tags or {})])
        except IntegrityError:
            raise ExperimentExists(f"an experiment named {name!r} already exists") from None
        return self.get_by_name(name)

    def ensure(self, names: Iterable[str]) -> None:
        wanted = set(names)
        if not wanted:
            return
        with self._read() as conn:
            known = {row[0] for row in conn.execute(select(e.name).where(e.name.in_(wanted)))}
        for name in sorted(wanted - known):
            try:
                with self._write() as conn:
                    if conn.execute(select(e.experiment_id).where(e.name == name)).first():
                        continue
                    conn.execute(insert(experiments), [self._row(name, None, {})])
            except IntegrityError:
                pass  # registered concurrently

    def _one(self, condition: Any, what: str) -> Experiment:
        with self._read() as conn:
            row = conn.execute(select(experiments).where(condition)).first()
        if row is None:
            raise NotFound(f"no experiment {what}")
        return _experiment(row)

    def get(self, experiment_id: int) -> Experiment:
        return self._one(e.experiment_id == experiment_id, f"with ID {experiment_id}")

    def get_by_name(self, name: str) -> Experiment:
        return self._one(e.name == name, f"named {name!r}")

    def list(self) -> list[Experiment]:
        with self._read() as conn:
            rows = conn.execute(select(experiments).order_by(e.experiment_id)).all()
        return [_experiment(row) for row in rows]

    def update(
        self,
        experiment_id: int,
        *,
        lifecycle_stage: Stage | None = None,
        set_tags: Mapping[str, str] | None = None,
        delete_tags: Iterable[str] = (),
    ) -> Experiment:
        with self._write() as conn:
            row = conn.execute(select(experiments).where(e.experiment_id == experiment_id)).first()
            if row is None:
                raise NotFound(f"no experiment with ID {experiment_id}")
            tags = dict(row.tags or {})
            tags.update(set_tags or {})
            for key in delete_tags:
                tags.pop(key, None)
            values: dict[str, Any] = {"tags": tags, "updated_at": time.time()}
            if lifecycle_stage is not None:
                values["lifecycle_stage"] = lifecycle_stage
            conn.execute(update(experiments).where(e.experiment_id == experiment_id).values(values))
        return self.get(experiment_id)
