"""Plain JSON shapes of records, shared by the routes. User text stays data: nothing here
builds HTML, and values pass through as JSON strings for the front end to escape."""

from __future__ import annotations

import math
from typing import Any

from labledger.entities import MetricSummary, RunRecord
from labledger.store.base import ArtifactVersion


def number(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def clean(value: Any) -> Any:
    """``value`` with every non-finite float replaced by null, recursively."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def float_list(array: Any) -> list[float | None]:
    """A float array as a JSON list; NaN and infinities become null."""
    import numpy as np

    values = np.asarray(array, dtype=float)
    finite = np.isfinite(values)
    if finite.all():
        result: list[float | None] = values.tolist()
        return result
    return [v if ok else None for v, ok in zip(values.tolist(), finite.tolist(), strict=True)]


def metric_json(summary: MetricSummary) -> dict[str, Any]:
    return {
        "key": summary.key,
        "last": number(summary.last),
        "min": number(summary.min),
        "max": number(summary.max),
        "count": summary.count,
        "last_step": summary.last_step,
        "last_time": summary.last_time,
    }


def run_json(record: RunRecord) -> dict[str, Any]:
    """The whole run record, with ``runtime`` and ``final_metrics``."""
    return {
        "id": record.run_id,
        "project": record.project,
        "name": record.name,
        "status": str(record.status),
        "created_at": record.created_at,
        "ended_at": record.ended_at,
        "heartbeat_at": record.heartbeat_at,
        "runtime": record.runtime,
        "group": record.group,
        "tags": list(record.tags),
        "notes": record.notes,
        "config": clean(record.config),
        "summary": clean(record.summary),
        "metrics": {k: metric_json(m) for k, m in sorted(record.metrics.items())},
        "final_metrics": clean(record.final_metrics()),
        "host": record.host,
        "pid": record.pid,
        "exit_code": record.exit_code,
        "error": record.error,
        "reproduces": record.reproduces,
        "fingerprint": record.fingerprint,
    }


def artifact_json(version: ArtifactVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "ref": version.ref,
        "type": version.type,
        "digest": version.digest,
        "size": version.size,
        "files": len(version.manifest),
        "manifest": version.manifest,
        "metadata": clean(version.metadata),
        "reference": version.reference,
        "uri": version.uri,
        "run": version.run_id,
        "created_at": version.created_at,
        "aliases": list(version.aliases),
    }
