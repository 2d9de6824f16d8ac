"""Experiments (labledger projects): create, get, get-by-name, search, delete/restore,
experiment tags. Renaming is refused (a project's name is its identity in labledger)."""

from __future__ import annotations

import functools
import re
from typing import Any

from labledger.errors import ExperimentExists, NotFound
from labledger.server.mlflow import convert
from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import (
    PERMISSION_DENIED,
    RESOURCE_ALREADY_EXISTS,
    MlflowError,
    does_not_exist,
    invalid,
)
from labledger.server.mlflow.filters import _like
from labledger.server.mlflow.runs import _view, decode_token, encode_token
from labledger.server.mlflow.validation import MAX_EXPERIMENT_NAME_LENGTH, check_name
from labledger.store.experiments import Experiment

MAX_EXPERIMENT_TAG_VAL_LENGTH = 20_000
SEARCH_DEFAULT = 1000
SEARCH_LIMIT = 50_000


def _check_experiment_name(name: str | None) -> str:
    if not name:
        raise invalid(f"Invalid experiment name: '{name or ''}'")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH or not name.isprintable():
        raise invalid(
            f"Invalid experiment name {name!r}: 1-{MAX_EXPERIMENT_NAME_LENGTH} printable characters"
        )
    return name


def _tags(msg: Message) -> dict[str, str]:
    tags = {}
    for i, item in enumerate(msg.items("tags")):
        if not isinstance(item, dict):
            raise invalid(f"Invalid value {item!r} for parameter 'tags[{i}]'")
        key = check_name(item.get("key"), f"tags[{i}].key")
        tags[key] = str(item.get("value") or "")
    return tags


@endpoint("/experiments/create")
def create_experiment(ctx: Ctx, msg: Message) -> dict[str, Any]:
    name = _check_experiment_name(msg.text("name"))
    visible = ctx.access.role(name) is not None
    try:
        existing: Experiment | None = ctx.experiments.get_by_name(name)
    except NotFound:
        existing = None
    if existing is not None and visible:
        raise MlflowError(
            f"Experiment(name={name}) already exists. Error: an experiment named {name!r}"
            " already exists",
            RESOURCE_ALREADY_EXISTS,
        )
    if not visible:  # a new project: only a server admin may create one
        raise MlflowError(
            f"{ctx.access.user} may not create the experiment {name!r}: a server admin creates"
            " projects (`labledger team project add`) and grants roles in them",
            PERMISSION_DENIED,
        )
    ctx.require(name, "writer")
    auth = getattr(ctx.store, "auth", None)
    if auth is not None:
        auth.add_project(name, created_by=ctx.access.user)
    try:
        created = ctx.experiments.create(
            name, artifact_location=msg.text("artifact_location"), tags=_tags(msg)
        )
    except ExperimentExists:
        raise MlflowError(
            f"Experiment(name={name}) already exists.", RESOURCE_ALREADY_EXISTS
        ) from None
    return {"experiment_id": str(created.experiment_id)}


@endpoint("/experiments/get", "GET")
def get_experiment(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment = ctx.experiment(msg.required("experiment_id"))
    return {"experiment": convert.experiment_json(experiment)}


@endpoint("/experiments/get-by-name", "GET")
def get_experiment_by_name(ctx: Ctx, msg: Message) -> dict[str, Any]:
    name = msg.required("experiment_name")
    missing = does_not_exist(f"Could not find experiment with name '{name}'")
    if ctx.access.role(name) is None:
        raise missing
    try:
        experiment = ctx.experiments.get_by_name(name)
    except NotFound:
        if name not in ctx.store.list_projects():
            raise missing from None
        experiment = ctx.experiment_of(name)  # a project with runs: registered now
    return {"experiment": convert.experiment_json(experiment)}


def _visible(ctx: Ctx) -> list[Experiment]:
    ctx.experiments.ensure(ctx.store.list_projects())
    return [e for e in ctx.experiments.list() if ctx.access.role(e.name) is not None]


_EXPERIMENT_FILTER = re.compile(
    r"""\s*(?:attributes?\.|attr\.)?(?P<field>name|creation_time|last_update_time|tags?\.(?:`[^`]+`|"[^"]+"|[\w.\-/:]+))
        \s*(?P<op>!=|>=|<=|=|<|>|ILIKE|LIKE)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+)\s*(?:AND\s+|$)""",
    re.VERBOSE | re.IGNORECASE,
)


def _experiment_filter(text: str | None) -> list[tuple[str, str, Any]]:
    conditions: list[tuple[str, str, Any]] = []
    pos, text = 0, (text or "").strip()
    while pos < len(text):
        match = _EXPERIMENT_FILTER.match(text, pos)
        if match is None or match.end() == pos:
            raise invalid(f"Invalid filter string for experiments: {text!r}")
        raw = match.group("value")
        value: Any = int(raw) if raw.lstrip("-").isdigit() else raw[1:-1]
        field = match.group("field")
        if field.lower().startswith("tag"):
            key = field.split(".", 1)[1].strip('`"')
            field = f"tags.{key}"
        conditions.append(
            (
                field.lower() if not field.startswith("tags.") else field,
                match.group("op").upper(),
                value,
            )
        )
        pos = match.end()
    return conditions


def _experiment_value(experiment: Experiment, field: str) -> Any:
    if field.startswith("tags."):
        return experiment.tags.get(field[5:])
    return {
        "name": experiment.name,
        "creation_time": convert.ms(experiment.created_at),
        "last_update_time": convert.ms(experiment.updated_at),
    }[field]


def _matches(experiment: Experiment, conditions: list[tuple[str, str, Any]]) -> bool:
    for field, op, want in conditions:
        have = _experiment_value(experiment, field)
        if have is None:
            return False
        if op in ("LIKE", "ILIKE"):
            if not _like(str(want), str(have), op == "ILIKE"):
                return False
            continue
        if isinstance(want, int) != isinstance(have, int):
            raise invalid(f"Invalid value {want!r} for experiment field {field}")
        ok = {
            "=": have == want,
            "!=": have != want,
            "<": have < want,
            "<=": have <= want,
            ">": have > want,
            ">=": have >= want,
        }[op]
        if not ok:
            return False
    return True


_ORDER = {"name", "experiment_id", "creation_time", "last_update_time"}


@endpoint("/experiments/search", "POST", "GET")
def search_experiments(ctx: Ctx, msg: Message) -> dict[str, Any]:
    max_results = msg.integer("max_results", SEARCH_DEFAULT) or SEARCH_DEFAULT
    if not 0 < max_results <= SEARCH_LIMIT:
        raise invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at"
            f" most {SEARCH_LIMIT}"
        )
    view = _view(msg.get("view_type"))
    stages = {"ACTIVE_ONLY": {"active"}, "DELETED_ONLY": {"deleted"}, "ALL": {"active", "deleted"}}
    if view not in stages:
        raise invalid(f"Invalid view type {view!r}")
    conditions = _experiment_filter(msg.text("filter"))
    found = [
        e for e in _visible(ctx) if e.lifecycle_stage in stages[view] and _matches(e, conditions)
    ]
    found.sort(key=lambda e: e.experiment_id)
    found.sort(key=lambda e: -e.created_at)  # MLflow: newest first, then by ID
    for clause in reversed([str(o) for o in msg.items("order_by")]):
        parts = clause.strip().split()
        field = parts[0].split(".", 1)[-1] if parts else ""
        if (
            field not in _ORDER
            or len(parts) > 2
            or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC"))
        ):
            raise invalid(f"Invalid order_by clause '{clause}'")
        descending = len(parts) == 2 and parts[1].upper() == "DESC"
        found.sort(key=functools.partial(_order_key, field=field), reverse=descending)
    offset = decode_token(msg.text("page_token"))
    page = found[offset : offset + max_results]
    answer: dict[str, Any] = {"experiments": [convert.experiment_json(e) for e in page]}
    if len(found) > offset + max_results:
        answer["next_page_token"] = encode_token(offset + max_results)
    return answer


def _order_key(experiment: Experiment, field: str) -> Any:
    if field == "experiment_id":
        return experiment.experiment_id
    return _experiment_value(experiment, field)


def _stage(ctx: Ctx, msg: Message, stage: str) -> dict[str, Any]:
    experiment = ctx.experiment(msg.required("experiment_id"))
    ctx.require(experiment.name, "admin")
    if experiment.experiment_id == 0 and stage == "deleted":
        raise invalid("Cannot delete the default experiment '0'. This is a reserved experiment.")
    ctx.experiments.update(experiment.experiment_id, lifecycle_stage=stage)  # type: ignore[arg-type]
    return {}


@endpoint("/experiments/delete")
def delete_experiment(ctx: Ctx, msg: Message) -> dict[str, Any]:
    return _stage(ctx, msg, "deleted")


@endpoint("/experiments/restore")
def restore_experiment(ctx: Ctx, msg: Message) -> dict[str, Any]:
    return _stage(ctx, msg, "active")


@endpoint("/experiments/update")
def update_experiment(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment = ctx.experiment(msg.required("experiment_id"))
    new_name = msg.text("new_name")
    if new_name and new_name != experiment.name:
        raise invalid(
            "labledger does not rename experiments: an experiment is a project, and runs keep"
            " their project's name"
        )
    return {}


@endpoint("/experiments/set-experiment-tag")
def set_experiment_tag(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment = ctx.experiment(msg.required("experiment_id"))
    ctx.require(experiment.name, "writer")
    key = check_name(msg.get("key"), "key")
    value = str(msg.get("value") or "")
    if len(value) > MAX_EXPERIMENT_TAG_VAL_LENGTH:
        raise invalid(f"'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VAL_LENGTH}")
    ctx.experiments.update(experiment.experiment_id, set_tags={key: value})
    return {}


@endpoint("/experiments/delete-experiment-tag")
def delete_experiment_tag(ctx: Ctx, msg: Message) -> dict[str, Any]:
    experiment = ctx.experiment(msg.required("experiment_id"))
    ctx.require(experiment.name, "writer")
    key = msg.required("key")
    if key not in experiment.tags:
        raise does_not_exist(f"No tag with name: {key} in experiment {experiment.experiment_id}")
    ctx.experiments.update(experiment.experiment_id, delete_tags=[key])
    return {}
