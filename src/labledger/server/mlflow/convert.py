"""labledger runs as MLflow entities, and MLflow's tags as labledger fields.

Mapping: experiment = project; params = the flattened config (text that spells a number is
stored as that number and given back with the same spelling); metrics = metric series;
user tags = labledger tags ``key=value``; ``mlflow.runName`` = the run name,
``mlflow.note.content`` = notes, ``mlflow.parentRunId`` = group; every ``mlflow.*`` tag is
also kept verbatim in the run's ``mlflow`` capture section, with the run's lifecycle stage
and MLflow user. A deleted run carries the labledger tag ``mlflow.deleted``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from labledger.encoding import flatten
from labledger.entities import MetricSummary, RunRecord, RunStatus
from labledger.store.experiments import Experiment

SECTION = "mlflow"  # capture section: {"tags": {...}, "user_id": ..., "lifecycle_stage": ...}
DELETED_TAG = "mlflow.deleted"
RUN_NAME, NOTE, PARENT, USER = (
    "mlflow.runName",
    "mlflow.note.content",
    "mlflow.parentRunId",
    "mlflow.user",
)

TO_MLFLOW_STATUS = {
    RunStatus.RUNNING: "RUNNING",
    RunStatus.FINISHED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.KILLED: "KILLED",
    RunStatus.CRASHED: "FAILED",
}
FROM_MLFLOW_STATUS = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}


def ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def number_json(value: float | None) -> float | str | None:
    """A double as proto3 JSON writes it (non-finite values are strings)."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def param_text(value: Any) -> str:
    """A config value as the MLflow param text it came from."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def params_of(record: RunRecord) -> dict[str, str]:
    return {key: param_text(value) for key, value in flatten(record.config).items()}


def user_tags(tags: list[str]) -> dict[str, str]:
    """labledger tags as MLflow tags (``key=value``; a bare tag has an empty value)."""
    found: dict[str, str] = {}
    for tag in tags:
        if tag == DELETED_TAG:
            continue
        key, _, value = tag.partition("=")
        found[key] = value
    return found


def tags_of(record: RunRecord, section: Mapping[str, Any]) -> dict[str, str]:
    tags = user_tags(record.tags)
    tags.update(section.get("tags") or {})
    tags[RUN_NAME] = record.name
    if record.notes is not None:
        tags[NOTE] = record.notes
    else:
        tags.pop(NOTE, None)
    return tags


def lifecycle_of(record: RunRecord) -> str:
    return "deleted" if DELETED_TAG in record.tags else "active"


def artifact_uri(experiment_id: int, run_id: str) -> str:
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def run_info(
    record: RunRecord, experiment: Experiment, section: Mapping[str, Any]
) -> dict[str, Any]:
    running = record.status == RunStatus.RUNNING
    info: dict[str, Any] = {
        "run_id": record.run_id,
        "run_uuid": record.run_id,
        "run_name": record.name,
        "experiment_id": str(experiment.experiment_id),
        "user_id": section.get("user_id") or (section.get("tags") or {}).get(USER) or "",
        "status": TO_MLFLOW_STATUS[RunStatus(record.status)],
        "start_time": ms(record.created_at),
        "artifact_uri": artifact_uri(experiment.experiment_id, record.run_id),
        "lifecycle_stage": lifecycle_of(record),
    }
    if not running and record.ended_at is not None:
        info["end_time"] = ms(record.ended_at)
    return info


def metric_json(
    key: str, value: float | None, time: float | None, step: int | None
) -> dict[str, Any]:
    return {
        "key": key,
        "value": number_json(value if value is not None else math.nan),
        "timestamp": ms(time) or 0,
        "step": int(step or 0),
    }


def latest_metrics(metrics: Mapping[str, MetricSummary]) -> list[dict[str, Any]]:
    return [metric_json(k, m.last, m.last_time, m.last_step) for k, m in sorted(metrics.items())]


def run_json(
    record: RunRecord,
    experiment: Experiment,
    captures: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    section = captures.get(SECTION) or {}
    tags = tags_of(record, section)
    data = {
        "metrics": latest_metrics(record.metrics),
        "params": [{"key": k, "value": v} for k, v in sorted(params_of(record).items())],
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
    }
    inputs = {"dataset_inputs": list(captures.get("mlflow_inputs", {}).get("datasets", []))}
    return {"info": run_info(record, experiment, section), "data": data, "inputs": inputs}


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    # Artifacts always go through the proxy into labledger's store, whatever was asked for.
    location = f"mlflow-artifacts:/{experiment.experiment_id}"
    return {
        "experiment_id": str(experiment.experiment_id),
        "name": experiment.name,
        "artifact_location": location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "last_update_time": ms(experiment.updated_at),
        "creation_time": ms(experiment.created_at),
        "tags": [{"key": k, "value": v} for k, v in sorted(experiment.tags.items())],
    }
