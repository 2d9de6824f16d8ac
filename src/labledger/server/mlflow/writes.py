"""Logging into a run: ``log-batch`` and its one-item forms (``log-metric``,
``log-parameter``, ``set-tag``), and ``delete-tag``.

One request is one ``Store.write_batch`` (one transaction): points, params, tags and run
fields land together or not at all. MLflow clients send no heartbeat, so every write counts as
one; a run the team server marked crashed after ``LABLEDGER_CRASH_AFTER`` seconds of silence
is running again on its next write.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labledger.entities import RunRecord, RunStatus
from labledger.sdk.importing import parse_param
from labledger.server.mlflow import convert
from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import does_not_exist, invalid
from labledger.server.mlflow.validation import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
    check_batch_limits,
    check_name,
    check_value,
    metric_value,
    whole,
)
from labledger.store.base import MetricColumns, RunBatch

NAME_LENGTH = 200  # labledger run names and groups; longer values stay in the mlflow section


@dataclass
class Entries:
    """What one request logs, validated."""

    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)


def _object(item: Any, path: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid(f"Invalid value {item!r} for parameter '{path}': expected an object")
    return item


def metric_entry(item: dict[str, Any], path: str, now_ms: int) -> tuple[str, float, int, int]:
    key = check_name(item.get("key"), f"{path}name" if path else "key")
    value = metric_value(item.get("value"), f"{path}value")
    timestamp = whole(item.get("timestamp"), f"{path}timestamp", now_ms, nonnegative=True)
    step = whole(item.get("step"), f"{path}step", 0)
    return key, value, timestamp, step


def param_entry(item: dict[str, Any], path: str) -> tuple[str, str]:
    key = check_name(item.get("key"), f"{path}key")
    return key, check_value(item.get("value"), f"{path}value", MAX_PARAM_VAL_LENGTH)


def tag_entry(item: dict[str, Any], path: str) -> tuple[str, str]:
    key = check_name(item.get("key"), f"{path}key")
    return key, check_value(item.get("value"), f"{path}value", MAX_TAG_VAL_LENGTH)


def tag_changes(
    record: RunRecord, section: dict[str, Any], tags: list[tuple[str, str]], deleted: list[str]
) -> dict[str, Any]:
    """Run fields (``changes``) and the new ``mlflow`` section for setting ``tags`` and
    deleting ``deleted``; ``section`` is updated in place."""
    labels = list(record.tags)
    system: dict[str, str] = dict(section.get("tags") or {})
    changes: dict[str, Any] = {}
    for key in deleted:
        if key.startswith("mlflow."):
            system.pop(key, None)
            if key == convert.NOTE:
                changes["notes"] = None
            elif key == convert.PARENT:
                changes["group"] = None
        else:
            labels = [t for t in labels if t.partition("=")[0] != key]
    for key, value in tags:
        if key.startswith("mlflow."):
            system[key] = value
            if key == convert.RUN_NAME and value:
                changes["name"] = value[:NAME_LENGTH]
            elif key == convert.NOTE:
                changes["notes"] = value
            elif key == convert.PARENT:
                changes["group"] = value[:NAME_LENGTH]
        else:
            labels = [t for t in labels if t.partition("=")[0] != key]
            labels.append(f"{key}={value}")
    if labels != record.tags:
        changes["tags"] = labels
    section["tags"] = system
    return changes


def alive(record: RunRecord) -> dict[str, Any]:
    changes: dict[str, Any] = {"heartbeat_at": time.time()}
    if record.status == RunStatus.CRASHED:  # marked crashed while the client was quiet
        changes.update(status=RunStatus.RUNNING, ended_at=None)
    return changes


def check_active(record: RunRecord) -> None:
    if convert.lifecycle_of(record) != "active":
        raise invalid(
            f"The run {record.run_id} must be in the 'active' state. Current state is deleted."
        )


def apply(ctx: Ctx, run_id: str | None, entries: Entries, deleted: Sequence[str] = ()) -> None:
    """Validate ``entries`` against the run (params are immutable) and write them at once."""
    keys = [k for k, _ in entries.params]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise invalid(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the"
            " request contains only one param value per param key."
        )
    record = ctx.run(run_id, "writer")
    assert run_id is not None
    with ctx.run_lock(run_id):
        if entries.tags or deleted:
            record = ctx.run(run_id, "writer")  # fresh, under the lock
        check_active(record)
        batch = RunBatch(changes=alive(record))
        if entries.params:
            existing = convert.params_of(record)
            for key, value in entries.params:
                old = existing.get(key)
                if old is not None and old != value:
                    raise invalid(
                        f"Changing param values is not allowed. Param with key='{key}' was"
                        f" already logged with value='{old}' for run ID='{run_id}'. Attempted"
                        f" logging new value '{value}'."
                    )
            batch.config = {k: parse_param(v) for k, v in entries.params if k not in existing}
        if entries.tags or deleted:
            section = dict(ctx.store.get_captures(run_id).get(convert.SECTION, {}))
            if deleted:
                current = convert.tags_of(record, section)
                for key in deleted:
                    if key not in current:
                        raise does_not_exist(f"No tag with name: {key} in run with id {run_id}")
            batch.changes.update(tag_changes(record, section, entries.tags, list(deleted)))
            batch.captures = {convert.SECTION: section}
        if entries.metrics:
            batch.metrics = metric_columns(entries.metrics)
        ctx.store.write_batch(run_id, batch)


def metric_columns(metrics: list[tuple[str, float, int, int]]) -> dict[str, MetricColumns]:
    grouped: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    for key, value, timestamp, step in metrics:
        grouped[key].append((value, timestamp, step))
    columns = {}
    for key, points in grouped.items():
        values = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        times = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points)) / 1000
        steps = np.fromiter((p[2] for p in points), dtype=np.int64, count=len(points))
        columns[key] = MetricColumns(steps=steps, values=values, times=times)
    return columns


def _now_ms() -> int:
    return int(time.time() * 1000)


@endpoint("/runs/log-batch")
def log_batch(ctx: Ctx, msg: Message) -> dict[str, Any]:
    if msg.size > MAX_BATCH_LOG_REQUEST_SIZE:
        raise invalid(
            f"Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes,"
            f" got a request of size {msg.size}."
        )
    metrics, params, tags = msg.items("metrics"), msg.items("params"), msg.items("tags")
    check_batch_limits(len(metrics), len(params), len(tags))
    now = _now_ms()
    entries = Entries(
        metrics=[
            metric_entry(_object(m, f"metrics[{i}]"), f"metrics[{i}].", now)
            for i, m in enumerate(metrics)
        ],
        params=[
            param_entry(_object(p, f"params[{i}]"), f"params[{i}].") for i, p in enumerate(params)
        ],
        tags=[tag_entry(_object(t, f"tags[{i}]"), f"tags[{i}].") for i, t in enumerate(tags)],
    )
    apply(ctx, _run_id(msg), entries)
    return {}


def _run_id(msg: Message) -> str:
    run_id = msg.text("run_id") or msg.text("run_uuid")
    if run_id is None:
        raise invalid("Missing value for required parameter 'run_id'.")
    return run_id


@endpoint("/runs/log-metric")
def log_metric(ctx: Ctx, msg: Message) -> dict[str, Any]:
    entry = metric_entry(dict(msg.data), "", _now_ms())
    apply(ctx, _run_id(msg), Entries(metrics=[entry]))
    return {}


@endpoint("/runs/log-parameter")
def log_parameter(ctx: Ctx, msg: Message) -> dict[str, Any]:
    apply(ctx, _run_id(msg), Entries(params=[param_entry(dict(msg.data), "")]))
    return {}


@endpoint("/runs/set-tag")
def set_tag(ctx: Ctx, msg: Message) -> dict[str, Any]:
    apply(ctx, _run_id(msg), Entries(tags=[tag_entry(dict(msg.data), "")]))
    return {}


@endpoint("/runs/delete-tag")
def delete_tag(ctx: Ctx, msg: Message) -> dict[str, Any]:
    key = msg.required("key")
    apply(ctx, _run_id(msg), Entries(), [key])
    return {}
