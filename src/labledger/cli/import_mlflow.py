"""Reading an MLflow tracking store (file store, SQLite/SQL database or server URL) with the
``mlflow`` package itself, as ``ImportedRun`` objects.

Mapping: an experiment becomes a project; a run keeps its name, status, start and end time;
params become the config (numbers where the text is exactly a number's spelling); every
metric keeps its full history (step, value, timestamp); user tags become ``key=value`` tags
and ``mlflow.note.content`` the notes; all tags, the experiment and the artifact URI are kept
in the ``origin`` capture; the run's artifact folder becomes the artifact ``mlflow-<run id>``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labledger.entities import RunRecord, RunStatus
from labledger.errors import LabledgerError, MissingExtra
from labledger.sdk.importing import ImportedArtifact, ImportedRun, parse_param

STATUS = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}


def tracking_uri(path_or_uri: str) -> str:
    """An MLflow tracking URI for a folder (file store), a ``.db`` file or a URI."""
    if "://" in path_or_uri or path_or_uri.startswith(("file:", "sqlite:")):
        return path_or_uri
    path = Path(path_or_uri).expanduser().absolute()
    if not path.exists():
        raise LabledgerError(
            f"no MLflow store at {path_or_uri}: give a folder, a .db file or a URI"
        )
    if path.is_file():
        return f"sqlite:///{path}"
    return path.as_uri()


class MlflowSource:
    """The runs of one MLflow tracking store."""

    name = "mlflow"

    def __init__(self, path_or_uri: str, experiment: str | None = None) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise MissingExtra("mlflow", "mlflow") from None
        self.uri = tracking_uri(path_or_uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment = experiment

    def _experiments(self) -> list[Any]:
        from mlflow.entities import ViewType

        try:
            experiments = list(self.client.search_experiments(view_type=ViewType.ALL))
        except Exception as exc:
            raise LabledgerError(f"cannot read the MLflow store {self.uri}: {exc}") from None
        if self.experiment is not None:
            experiments = [e for e in experiments if self.experiment in (e.name, e.experiment_id)]
            if not experiments:
                raise LabledgerError(f"no MLflow experiment {self.experiment!r} in {self.uri}")
        return experiments

    def run_ids(self) -> Iterator[tuple[str, Any, Any]]:
        """``(source_id, experiment, run)`` for every run, oldest first."""
        from mlflow.entities import ViewType

        for experiment in self._experiments():
            token = None
            while True:
                page = self.client.search_runs(
                    [experiment.experiment_id],
                    run_view_type=ViewType.ALL,
                    max_results=1000,
                    order_by=["attributes.start_time ASC"],
                    page_token=token,
                )
                for run in page:
                    yield self.source_id(run.info.run_id), experiment, run
                token = page.token
                if not token:
                    break

    def source_id(self, run_id: str) -> str:
        return f"{self.uri}#{run_id}"

    def load(self, source_id: str, experiment: Any, run: Any, scratch: Path) -> ImportedRun:
        info, data = run.info, run.data
        tags = dict(data.tags)
        start = (info.start_time or 0) / 1000.0
        end = info.end_time / 1000.0 if info.end_time else None
        status = STATUS.get(info.status, RunStatus.CRASHED)  # RUNNING here: never finished
        record = RunRecord(
            run_id="",
            project=experiment.name,
            name=info.run_name or tags.get("mlflow.runName") or info.run_id,
            status=status,
            created_at=start,
            ended_at=end if end is not None else start,
            heartbeat_at=end if end is not None else start,
            tags=sorted(f"{k}={v}" for k, v in tags.items() if not k.startswith("mlflow.")),
            notes=tags.get("mlflow.note.content"),
            config={key: parse_param(value) for key, value in data.params.items()},
        )
        imported = ImportedRun(
            source=self.name,
            source_id=source_id,
            record=record,
            details={
                "uri": self.uri,
                "run_id": info.run_id,
                "experiment": experiment.name,
                "experiment_id": experiment.experiment_id,
                "status": info.status,
                "lifecycle_stage": info.lifecycle_stage,
                "artifact_uri": info.artifact_uri,
                "tags": tags,
                "params": dict(data.params),
                "lacks": ["code", "packages", "seeds", "fingerprint"],
            },
        )
        for key in data.metrics:
            history = sorted(
                self.client.get_metric_history(info.run_id, key),
                key=lambda m: (m.step, m.timestamp),
            )
            imported.metrics[key] = (
                [int(m.step) for m in history],
                [float(m.value) for m in history],
                [m.timestamp / 1000.0 for m in history],
            )
        if self.client.list_artifacts(info.run_id):
            folder = scratch / info.run_id
            folder.mkdir(parents=True, exist_ok=True)
            local = self.client.download_artifacts(info.run_id, "", str(folder))
            imported.artifacts.append(
                ImportedArtifact(
                    path=local,
                    name=f"mlflow-{info.run_id}"[:128],
                    metadata={"source": "mlflow", "artifact_uri": info.artifact_uri},
                )
            )
        return imported


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="labledger-import-")
