"""Runs: create, get, update, delete/restore, search (MLflow filters, ``order_by``, page
tokens)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from labledger.entities import RunRecord, RunStatus, new_run_id
from labledger.errors import RunExists
from labledger.server.mlflow import convert, filters
from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import invalid
from labledger.server.mlflow.validation import MAX_TAG_VAL_LENGTH, check_name, check_value
from labledger.server.mlflow.writes import NAME_LENGTH, alive, tag_changes

MAX_RESULTS_DEFAULT = 1000
MAX_RESULTS_LIMIT = 50_000
VIEW_TYPES = {"ACTIVE_ONLY", "DELETED_ONLY", "ALL"}


def run_response(ctx: Ctx, record: RunRecord) -> dict[str, Any]:
    experiment = ctx.experiment_of(record.project)
    return convert.run_json(record, experiment, ctx.store.get_captures(record.run_id))


@endpoint("/runs/create")
def create_run(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment = ctx.experiment(msg.text("experiment_id") or "0")
    if experiment.lifecycle_stage != "active":
        raise invalid(
            f"The experiment {experiment.experiment_id} must be in the 'active' state."
            " Current state is deleted."
        )
    ctx.require(experiment.name, "writer")
    tags = []
    for i, item in enumerate(msg.items("tags")):
        if not isinstance(item, dict):
            raise invalid(f"Invalid value {item!r} for parameter 'tags[{i}]'")
        key = check_name(item.get("key"), f"tags[{i}].key")
        tags.append((key, check_value(item.get("value"), f"tags[{i}].value", MAX_TAG_VAL_LENGTH)))
    run_name = msg.text("run_name") or dict(tags).get(convert.RUN_NAME)
    start = msg.integer("start_time")
    now = time.time()
    run_id = new_run_id()
    record = RunRecord(
        run_id=run_id,
        project=experiment.name,
        name=(run_name or run_id)[:NAME_LENGTH],
        status=RunStatus.RUNNING,
        created_at=start / 1000 if start else now,
        heartbeat_at=now,
    )
    user = msg.text("user_id") or dict(tags).get(convert.USER) or ""
    section: dict[str, Any] = {"user_id": user, "lifecycle_stage": "active"}
    if run_name and not any(k == convert.RUN_NAME for k, _ in tags):
        tags.append((convert.RUN_NAME, run_name))
    changes = tag_changes(record, section, tags, [])
    record.tags = changes.get("tags", [])
    record.notes = changes.get("notes")
    record.group = changes.get("group")
    for _ in range(3):
        try:
            ctx.store.create_run(record)
            break
        except RunExists:  # an ID collision: draw another
            record.run_id = new_run_id()
    ctx.store.put_captures(record.run_id, {convert.SECTION: section})
    return {"run": run_response(ctx, ctx.store.get_run(record.run_id))}


@endpoint("/runs/get", "GET")
def get_run(ctx: Ctx, msg: Message) -> dict[str, Any]:
    record = ctx.run(msg.text("run_id") or msg.text("run_uuid"))
    return {"run": run_response(ctx, record)}


@endpoint("/runs/update")
def update_run(ctx: Ctx, msg: Message) -> dict[str, Any]:
    run_id = msg.text("run_id") or msg.text("run_uuid")
    record = ctx.run(run_id, "writer")
    changes = alive(record)
    status = msg.text("status")
    if status is not None:
        if status not in convert.FROM_MLFLOW_STATUS:
            raise invalid(f"Invalid value {status!r} for parameter 'status'")
        changes["status"] = convert.FROM_MLFLOW_STATUS[status]
        if changes["status"] == RunStatus.RUNNING:
            changes["ended_at"] = None
    end = msg.integer("end_time")
    if end is not None:
        changes["ended_at"] = end / 1000
    elif status is not None and changes["status"] != RunStatus.RUNNING:
        changes["ended_at"] = time.time()
    name = msg.text("run_name")
    if name:
        changes["name"] = name[:NAME_LENGTH]
    ctx.store.update_run(record.run_id, changes)
    updated = ctx.store.get_run(record.run_id)
    return {"run_info": run_response(ctx, updated)["info"]}


def _set_deleted(ctx: Ctx, msg: Message, deleted: bool) -> dict[str, Any]:
    record = ctx.run(msg.text("run_id"), "writer")
    tags = [t for t in record.tags if t != convert.DELETED_TAG]
    if deleted:
        tags.append(convert.DELETED_TAG)
    ctx.store.update_run(record.run_id, {"tags": tags})
    return {}


@endpoint("/runs/delete")
def delete_run(ctx: Ctx, msg: Message) -> dict[str, Any]:
    return _set_deleted(ctx, msg, True)


@endpoint("/runs/restore")
def restore_run(ctx: Ctx, msg: Message) -> dict[str, Any]:
    return _set_deleted(ctx, msg, False)


# --- search ----------------------------------------------------------------------------------
def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        raise invalid("Invalid page token, could not base64-decode") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid("Invalid page token")
    return offset


def view_filter(view: str) -> str | None:
    if view not in VIEW_TYPES:
        raise invalid(f"Invalid view type {view!r}: one of {sorted(VIEW_TYPES)}")
    marked = f"tags contains '{convert.DELETED_TAG}'"
    return {"ACTIVE_ONLY": f"not {marked}", "DELETED_ONLY": marked, "ALL": None}[view]


def _view(value: Any) -> str:
    names = {"1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL"}
    return names.get(str(value), str(value or "ACTIVE_ONLY"))


def _experiments(ctx: Ctx, ids: list[Any]) -> list[Any]:
    """The visible experiments among ``ids`` (unknown ones match nothing, as in MLflow)."""
    from labledger.server.mlflow.errors import MlflowError

    found = []
    for experiment_id in ids:
        try:
            found.append(ctx.experiment(experiment_id))
        except MlflowError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST":
                raise
    return found


@endpoint("/runs/search", "POST", "GET")
def search_runs(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment_ids = msg.items("experiment_ids")
    projects = sorted({e.name for e in _experiments(ctx, experiment_ids)})
    max_results = msg.integer("max_results", MAX_RESULTS_DEFAULT) or MAX_RESULTS_DEFAULT
    if not 0 < max_results <= MAX_RESULTS_LIMIT:
        raise invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at"
            f" most {MAX_RESULTS_LIMIT}"
        )
    offset = decode_token(msg.text("page_token"))
    if not projects:
        return {}
    conditions = filters.parse(msg.text("filter"))
    translated = filters.translate(conditions)
    orders = filters.parse_order([str(o) for o in msg.items("order_by")])
    store_order = filters.store_order(orders)
    scope = "project in (" + ", ".join(filters._quote(p) for p in projects) + ")"
    parts = [scope, view_filter(_view(msg.get("run_view_type"))), translated.store_filter]
    text = " and ".join(f"({p})" for p in parts if p)
    if not translated.residual and store_order is not None:
        records = ctx.store.search_runs(None, text, store_order, max_results + 1, offset)
        page = [run_response(ctx, r) for r in records[:max_results]]
        more = len(records) > max_results
    else:
        records = ctx.store.search_runs(None, text, store_order or [])
        runs = [run_response(ctx, r) for r in records]
        runs = [r for r in runs if filters.matches(r, translated.residual)]
        if store_order is None:
            runs = filters.sort_runs(runs, orders)
        page = runs[offset : offset + max_results]
        more = len(runs) > offset + max_results
    answer: dict[str, Any] = {"runs": page}
    if more:
        answer["next_page_token"] = encode_token(offset + max_results)
    return answer


@endpoint("/logged-models/search", "POST", "GET")
def search_logged_models(ctx: Ctx, msg: Message) -> dict[str, Any]:
    """MLflow 3 clients look for logged models when resolving ``runs:/`` URIs; labledger
    keeps none (``log_model`` files are run artifacts), so the answer is always empty."""
    return {"models": []}
