"""``runs/log-inputs``: the datasets a run used (``mlflow.log_input``, autologging), kept in
the run's ``mlflow_inputs`` capture section as MLflow's ``DatasetInput`` documents (one per
name, digest and context), given back in ``run.inputs`` and searchable as ``datasets.*``."""

from __future__ import annotations

from typing import Any

from labledger.server.mlflow.common import Ctx, Message, endpoint
from labledger.server.mlflow.errors import invalid

SECTION = "mlflow_inputs"
MAX_DATASETS = 1000
LIMITS = {"name": 500, "digest": 36, "source_type": 36, "source": 65535, "schema": 1048575,
          "profile": 16777215}  # fmt: skip


def _dataset_input(item: Any, path: str) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
        raise invalid(f"Invalid value {item!r} for parameter '{path}': expected a DatasetInput")
    dataset = {k: v for k, v in item["dataset"].items() if k in LIMITS and v is not None}
    for key in ("name", "digest", "source_type", "source"):
        if not dataset.get(key):
            raise invalid(f"Missing value for required parameter '{path}.dataset.{key}'.")
    for key, limit in LIMITS.items():
        if len(str(dataset.get(key, ""))) > limit:
            raise invalid(f"'{path}.dataset.{key}' exceeds the maximum length of {limit}")
    tags = [
        {"key": str(t.get("key")), "value": str(t.get("value") or "")}
        for t in item.get("tags") or []
        if isinstance(t, dict) and t.get("key")
    ]
    return {"tags": tags, "dataset": dataset}


def _identity(entry: dict[str, Any]) -> tuple[str, str, str]:
    context = next((t["value"] for t in entry["tags"] if t["key"] == "mlflow.data.context"), "")
    return entry["dataset"]["name"], entry["dataset"]["digest"], context


@endpoint("/runs/log-inputs")
def log_inputs(ctx: Ctx, msg: Message) -> dict[str, Any]:
    items = msg.items("datasets")
    if len(items) > MAX_DATASETS:
        raise invalid(f"A batch logging request can contain at most {MAX_DATASETS} datasets.")
    entries = [_dataset_input(item, f"datasets[{i}]") for i, item in enumerate(items)]
    record = ctx.run(msg.text("run_id"), "writer")
    if not entries:
        return {}
    with ctx.run_lock(f"inputs:{record.run_id}"):
        section = dict(ctx.store.get_captures(record.run_id).get(SECTION, {}))
        known = list(section.get("datasets", []))
        seen = {_identity(e) for e in known}
        for entry in entries:
            if _identity(entry) not in seen:
                known.append(entry)
                seen.add(_identity(entry))
        ctx.store.put_captures(record.run_id, {SECTION: {"datasets": known}})
    return {}
