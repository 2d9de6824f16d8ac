"""MLflow 3 logged models, enough for ``mlflow.<flavor>.log_model`` and autologging: a logged
model belongs to its source run, lives in the run's ``mlflow_models`` capture section, and
its files are run artifacts under ``models/<model id>/`` (so they land in labledger's
content-addressed store through the artifact proxy). Models without a source run are refused.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from labledger.server.deps import Role
from labledger.server.mlflow import convert
from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import does_not_exist, invalid

SECTION = "mlflow_models"
STATUSES = {"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"}


def _pairs(items: list[Any]) -> dict[str, str]:
    return {
        str(i.get("key")): str(i.get("value") or "")
        for i in items
        if isinstance(i, dict) and i.get("key")
    }


def _answer(model: dict[str, Any]) -> dict[str, Any]:
    info = {k: v for k, v in model.items() if k not in ("tags", "params")}
    info["tags"] = [{"key": k, "value": v} for k, v in sorted(model["tags"].items())]
    params = [{"key": k, "value": v} for k, v in sorted(model["params"].items())]
    return {"model": {"info": info, "data": {"params": params, "metrics": []}}}


@endpoint("/logged-models")
def create_logged_model(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_id = msg.text("source_run_id")
    if run_id is None:
        raise invalid("labledger keeps logged models only with their source run: log it in a run")
    record = ctx.run(run_id, "writer")
    experiment = ctx.experiment_of(record.project)
    model_id = f"m-{run_id}-{secrets.token_hex(6)}"
    now = int(time.time() * 1000)
    model = {
        "model_id": model_id,
        "experiment_id": str(experiment.experiment_id),
        "name": msg.text("name") or model_id,
        "artifact_uri": convert.artifact_uri(experiment.experiment_id, run_id)
        + f"/models/{model_id}",
        "creation_timestamp_ms": now,
        "last_updated_timestamp_ms": now,
        "status": "LOGGED_MODEL_PENDING",
        "source_run_id": run_id,
        "model_type": msg.text("model_type") or "",
        "tags": _pairs(msg.items("tags")),
        "params": _pairs(msg.items("params")),
    }
    _save(ctx, run_id, model)
    return _answer(model)


def _save(ctx: Ctx, run_id: str, model: dict[str, Any]) -> None:
    with ctx.run_lock(f"models:{run_id}"):
        section = dict(ctx.store.get_captures(run_id).get(SECTION, {}))
        section[model["model_id"]] = model
        ctx.store.put_captures(run_id, {SECTION: section})


def _load(ctx: Ctx, role: Role = "viewer") -> tuple[str, dict[str, Any]]:
    model_id = str(ctx.request.path_params.get("model_id", ""))
    parts = model_id.split("-")
    if len(parts) != 3 or parts[0] != "m":
        raise does_not_exist(f"Logged model with ID '{model_id}' not found.")
    ctx.run(parts[1], role)
    model = ctx.store.get_captures(parts[1]).get(SECTION, {}).get(model_id)
    if model is None:
        raise does_not_exist(f"Logged model with ID '{model_id}' not found.")
    return parts[1], dict(model)


@endpoint("/logged-models/{model_id}", "GET")
def get_logged_model(ctx: Ctx, msg: Message) -> dict[str, Any]:
    return _answer(_load(ctx)[1])


@endpoint("/logged-models/{model_id}", "PATCH")
def finalize_logged_model(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_id, model = _load(ctx, "writer")
    status = msg.get("status")
    if status not in STATUSES:
        raise invalid(f"Invalid value {status!r} for parameter 'status'")
    model.update(status=status, last_updated_timestamp_ms=int(time.time() * 1000))
    _save(ctx, run_id, model)
    return _answer(model)


@endpoint("/logged-models/{model_id}/tags", "PATCH")
def set_logged_model_tags(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_id, model = _load(ctx, "writer")
    model["tags"] = {**model["tags"], **_pairs(msg.items("tags"))}
    _save(ctx, run_id, model)
    return {}


@endpoint("/logged-models/{model_id}/params")
def log_logged_model_params(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_id, model = _load(ctx, "writer")
    model["params"] = {**model["params"], **_pairs(msg.items("params"))}
    _save(ctx, run_id, model)
    return {}


@endpoint("/runs/outputs")
def log_outputs(ctx: Ctx, msg: Message) -> dict[str, Any]:
    ctx.run(msg.text("run_id"), "writer")
    return {}
